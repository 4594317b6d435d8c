// Client-side routes under /app/: the server answers every /app/... path that is not a file with
// index.html, and this module turns the path into a page and moves between pages.
import { useEffect, useState } from 'react';

export type Route =
  | { page: 'home' }
  | { page: 'callback' }
  | { page: 'patient'; id: string }
  | { page: 'my-record' }
  | { page: 'who-accessed' }
  | { page: 'sharing' }
  | { page: 'find-patient' }
  | { page: 'review'; view: 'waiting' | 'decided' }
  | { page: 'review-match'; id: string }
  | { page: 'not-found' };

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '');
  if (path === '/app' || path === '') return { page: 'home' };
  if (path === '/app/callback') return { page: 'callback' };
  if (path === '/app/my-record') return { page: 'my-record' };
  if (path === '/app/my-record/who-accessed') return { page: 'who-accessed' };
  if (path === '/app/my-record/sharing') return { page: 'sharing' };
  if (path === '/app/find-patient') return { page: 'find-patient' };
  if (path === '/app/review') return { page: 'review', view: 'waiting' };
  if (path === '/app/review/decided') return { page: 'review', view: 'decided' };
  const m = /^\/app\/patient\/([A-Za-z0-9\-.]{1,64})$/.exec(path);
  if (m?.[1]) return { page: 'patient', id: m[1] };
  // A review is a Task of the identity service; "decided" above is the list, never a Task's id here.
  const r = /^\/app\/review\/([A-Za-z0-9\-.]{1,64})$/.exec(path);
  if (r?.[1]) return { page: 'review-match', id: r[1] };
  return { page: 'not-found' };
}

const kEvent = 'ucr:navigate';

export function navigate(to: string, replace = false): void {
  if (replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(kEvent));
  window.scrollTo(0, 0);
}

export function useLocation(): Location {
  const [, setTick] = useState(0);
  useEffect(() => {
    const on = () => setTick((t) => t + 1);
    window.addEventListener('popstate', on);
    window.addEventListener(kEvent, on);
    return () => {
      window.removeEventListener('popstate', on);
      window.removeEventListener(kEvent, on);
    };
  }, []);
  return window.location;
}

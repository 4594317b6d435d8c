// Sign-in with the server's own OAuth2 provider: authorization code + PKCE (S256), public client
// `ucr-web`. The access token is kept in sessionStorage (this tab only, gone when it closes);
// passwords are typed into the server's sign-in page, never into this app.
import { codeChallengeS256, createCodeVerifier, randomToken } from './pkce';

export const kClientId = 'ucr-web';
export const kScope = 'openid fhirUser launch/patient user/*.cruds patient/*.cruds';
const kPendingKey = 'ucr.signin';
const kSessionKey = 'ucr.session';

/** What the app knows about the person signed in. */
export interface Session {
  accessToken: string;
  expiresAt: number; // epoch milliseconds
  role: string; // ucr role code, e.g. "gp", "patient"
  name: string;
  fhirUser?: string;
  patient?: string; // the patient's own record id (patients and proxies)
  patients?: string[]; // every record a proxy may act for
}

interface Pending {
  state: string;
  verifier: string;
  returnTo: string;
}

/** Minimal storage interface so the logic can be tested without a browser. */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function redirectUri(origin: string): string {
  return `${origin}/app/callback`;
}

/** Builds the /oauth/authorize URL and remembers the state and verifier for the callback. */
export async function beginSignIn(origin: string, returnTo: string, store: KeyValueStore): Promise<string> {
  const verifier = createCodeVerifier();
  const state = randomToken(24);
  const pending: Pending = { state, verifier, returnTo };
  store.setItem(kPendingKey, JSON.stringify(pending));
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: kClientId,
    redirect_uri: redirectUri(origin),
    scope: kScope,
    state,
    code_challenge: await codeChallengeS256(verifier),
    code_challenge_method: 'S256',
  });
  return `${origin}/oauth/authorize?${params.toString()}`;
}

/** The claims of a JWT's payload, read for display only: the server checks the signature. */
export function jwtClaims(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) return {};
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export class SignInError extends Error {}

type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/**
 * Completes the sign-in on /app/callback: checks `state` against the one sent, exchanges the
 * code with the verifier, stores the session and returns where to go next.
 */
export async function completeSignIn(
  origin: string,
  query: URLSearchParams,
  store: KeyValueStore,
  fetcher: FetchLike,
  now: number = Date.now(),
): Promise<{ session: Session; returnTo: string }> {
  const raw = store.getItem(kPendingKey);
  store.removeItem(kPendingKey); // one attempt per sign-in
  const error = query.get('error');
  if (error) throw new SignInError(query.get('error_description') ?? error);
  if (!raw) throw new SignInError('This sign-in was not started here, or was already used. Please sign in again.');
  const pending = JSON.parse(raw) as Pending;
  const state = query.get('state');
  const code = query.get('code');
  if (!state || state !== pending.state) throw new SignInError('The sign-in response did not match. Please sign in again.');
  if (!code) throw new SignInError('The sign-in response had no code. Please sign in again.');
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri(origin),
    client_id: kClientId,
    code_verifier: pending.verifier,
  });
  const res = await fetcher(`${origin}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: body.toString(),
  });
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok || typeof json.access_token !== 'string') {
    const why = typeof json.error_description === 'string' ? json.error_description : `status ${res.status}`;
    throw new SignInError(`Sign-in could not be completed (${why}). Please sign in again.`);
  }
  const claims = jwtClaims(json.access_token);
  const expiresIn = typeof json.expires_in === 'number' ? json.expires_in : 900;
  const session: Session = {
    accessToken: json.access_token,
    expiresAt: now + expiresIn * 1000,
    role: typeof claims.ucr_role === 'string' ? claims.ucr_role : 'unknown',
    name: typeof claims.name === 'string' ? claims.name : String(claims.sub ?? ''),
  };
  if (typeof json.fhirUser === 'string') session.fhirUser = json.fhirUser;
  const patient = typeof json.patient === 'string' ? json.patient : claims.patient;
  if (typeof patient === 'string') session.patient = patient;
  if (Array.isArray(claims.patients)) {
    session.patients = claims.patients.filter((p): p is string => typeof p === 'string');
  }
  store.setItem(kSessionKey, JSON.stringify(session));
  const returnTo = pending.returnTo.startsWith('/app/') ? pending.returnTo : '/app/';
  return { session, returnTo };
}

/** The stored session, or null when there is none or it has expired. */
export function loadSession(store: KeyValueStore, now: number = Date.now()): Session | null {
  const raw = store.getItem(kSessionKey);
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Session;
    if (typeof s.accessToken !== 'string' || s.expiresAt <= now) {
      store.removeItem(kSessionKey);
      return null;
    }
    return s;
  } catch {
    store.removeItem(kSessionKey);
    return null;
  }
}

export function clearSession(store: KeyValueStore): void {
  store.removeItem(kSessionKey);
  store.removeItem(kPendingKey);
  store.removeItem('ucr.acting-for');
}

/** Patients and proxies use the patient app; every other role the clinician app. */
export function isPatientRole(role: string): boolean {
  return role === 'patient' || role === 'proxy';
}

/** The record a patient or proxy is looking at: the one chosen (if they may act for it), else the first. */
export function actingFor(session: Session, chosen: string | null): string | undefined {
  const allowed = session.patients && session.patients.length > 0 ? session.patients : session.patient ? [session.patient] : [];
  if (chosen && allowed.includes(chosen)) return chosen;
  return session.patient ?? allowed[0];
}

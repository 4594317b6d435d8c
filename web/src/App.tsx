import { useEffect, useMemo, useState } from 'react';
import { Layout, Link, type NavItem } from './components/Layout';
import {
  actingFor,
  beginSignIn,
  clearSession,
  completeSignIn,
  isPatientRole,
  loadSession,
  type Session,
} from './lib/auth';
import { FhirClient } from './lib/fhir';
import { FindPatient } from './pages/FindPatient';
import { MyRecord } from './pages/MyRecord';
import { PatientRecord } from './pages/PatientRecord';
import { ReviewMatch } from './pages/ReviewMatch';
import { ReviewQueue } from './pages/ReviewQueue';
import { Sharing } from './pages/Sharing';
import { WhoAccessed } from './pages/WhoAccessed';
import { navigate, parseRoute, useLocation } from './router';

const origin = () => window.location.origin;

/** Keeps the index of people right: reviews possible duplicates, sees demographics but never the clinical record. */
const kDataQualityOfficer = 'data-quality-officer';

async function signIn(returnTo: string) {
  window.location.assign(await beginSignIn(origin(), returnTo, window.sessionStorage));
}

function SignInPage({ returnTo }: { returnTo: string }) {
  useEffect(() => {
    document.title = 'Sign in - Universal Care Record';
  }, []);
  return (
    <>
      <h1 className="nhsuk-heading-xl">Universal Care Record</h1>
      <p className="nhsuk-lede-text">
        One shared health and care record. Care professionals see the record of the people they care for; patients see
        their own record.
      </p>
      <button className="nhsuk-button" type="button" onClick={() => void signIn(returnTo)}>
        Sign in
      </button>
    </>
  );
}

function Callback({ onSession }: { onSession: (s: Session) => void }) {
  const [error, setError] = useState('');
  useEffect(() => {
    document.title = 'Signing in - Universal Care Record';
    let live = true;
    completeSignIn(origin(), new URLSearchParams(window.location.search), window.sessionStorage, (u, i) => fetch(u, i))
      .then(({ session, returnTo }) => {
        if (!live) return;
        onSession(session);
        navigate(isPatientRole(session.role) ? '/app/my-record' : returnTo, true);
      })
      .catch((e: unknown) => {
        if (live) setError(e instanceof Error ? e.message : String(e));
      });
    return () => {
      live = false;
    };
    // Runs once per visit to the callback: the code works only once.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  if (!error) return <p role="status">Signing you in…</p>;
  return (
    <>
      <h1 className="nhsuk-heading-l">Sign-in problem</h1>
      <p role="alert">{error}</p>
      <button className="nhsuk-button" type="button" onClick={() => void signIn('/app/')}>
        Sign in again
      </button>
    </>
  );
}

export function App() {
  const location = useLocation();
  const route = parseRoute(location.pathname);
  const [session, setSession] = useState<Session | null>(() => loadSession(window.sessionStorage));
  const [chosen, setChosen] = useState<string | null>(() => window.sessionStorage.getItem('ucr.acting-for'));
  const choose = (id: string) => {
    window.sessionStorage.setItem('ucr.acting-for', id);
    setChosen(id);
    navigate('/app/my-record');
  };
  const patientId = session ? actingFor(session, chosen) : undefined;
  const proxy = session?.role === 'proxy' ? { patients: session.patients ?? [], onChoose: choose } : undefined;

  const signOut = () => {
    if (session) {
      // Best effort: the token is also forgotten here whatever the server answers (RFC 7009).
      void fetch(`${origin()}/oauth/revoke`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: session.accessToken, client_id: 'ucr-web' }).toString(),
      }).catch(() => undefined);
    }
    clearSession(window.sessionStorage);
    setSession(null);
    navigate('/app/');
  };

  const client = useMemo(
    () =>
      session
        ? new FhirClient(`${origin()}/fhir`, session.accessToken, () => {
            clearSession(window.sessionStorage);
            setSession(null);
          })
        : null,
    [session],
  );

  let page;
  if (route.page === 'callback') {
    page = <Callback onSession={setSession} />;
  } else if (!session || !client) {
    page = <SignInPage returnTo={location.pathname} />;
  } else if (route.page === 'home') {
    page = isPatientRole(session.role) ? (
      <MyRecord client={client} patientId={patientId} proxy={proxy} />
    ) : session.role === kDataQualityOfficer ? (
      <ReviewQueue key="waiting" client={client} view="waiting" />
    ) : (
      <FindPatient client={client} />
    );
  } else if (route.page === 'find-patient' && !isPatientRole(session.role)) {
    page = <FindPatient client={client} />;
  } else if (route.page === 'review' && !isPatientRole(session.role)) {
    page = <ReviewQueue key={route.view} client={client} view={route.view} />;
  } else if (route.page === 'review-match' && !isPatientRole(session.role)) {
    page = <ReviewMatch client={client} id={route.id} />;
  } else if (route.page === 'my-record') {
    page = <MyRecord client={client} patientId={patientId} proxy={proxy} />;
  } else if (route.page === 'sharing') {
    page = <Sharing client={client} patientId={patientId} />;
  } else if (route.page === 'who-accessed') {
    page = <WhoAccessed client={client} patientId={patientId} />;
  } else if (route.page === 'patient') {
    page = (
      <PatientRecord
        client={client}
        id={route.id}
        fhirUser={session.fhirUser}
        demographicsOnly={session.role === kDataQualityOfficer}
      />
    );
  } else {
    page = (
      <>
        <h1 className="nhsuk-heading-l">Page not found</h1>
        <p>
          <Link to="/app/">Go to the start page</Link>
        </p>
      </>
    );
  }
  useEffect(() => {
    const finding = route.page === 'find-patient' || (route.page === 'home' && session?.role !== kDataQualityOfficer);
    if (finding && session && !isPatientRole(session.role)) {
      document.title = 'Find a patient - Universal Care Record';
    }
  }, [route.page, session]);

  // A data-quality officer starts at the review queue, and can find a patient from there.
  let navigation: NavItem[] | undefined;
  if (session?.role === kDataQualityOfficer && route.page !== 'callback') {
    const reviewing = route.page === 'home' || route.page === 'review' || route.page === 'review-match';
    const exact = route.page === 'home' || (route.page === 'review' && route.view === 'waiting');
    const finding = route.page === 'find-patient' || route.page === 'patient';
    navigation = [
      { to: '/app/', text: 'Possible duplicate records', current: exact ? 'page' : reviewing ? 'section' : false },
      {
        to: '/app/find-patient',
        text: 'Find a patient',
        current: route.page === 'find-patient' ? 'page' : finding ? 'section' : false,
      },
    ];
  }

  return (
    <Layout {...(session ? { userName: session.name, onSignOut: signOut } : {})} {...(navigation ? { navigation } : {})}>
      {page}
    </Layout>
  );
}

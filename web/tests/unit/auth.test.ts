import { describe, expect, it } from 'vitest';
import {
  actingFor,
  beginSignIn,
  completeSignIn,
  type KeyValueStore,
  loadSession,
  SignInError,
} from '../../src/lib/auth';
import { base64url, codeChallengeS256 } from '../../src/lib/pkce';

class MemoryStore implements KeyValueStore {
  readonly items = new Map<string, string>();
  getItem(k: string) {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.items.set(k, v);
  }
  removeItem(k: string) {
    this.items.delete(k);
  }
}

const origin = 'http://127.0.0.1:8080';

function fakeJwt(claims: object): string {
  const enc = (o: object) => base64url(new TextEncoder().encode(JSON.stringify(o)));
  return `${enc({ alg: 'ES256' })}.${enc(claims)}.signature`;
}

describe('sign-in', () => {
  it('asks for the code flow with an S256 challenge of the stored verifier and a state', async () => {
    const store = new MemoryStore();
    const url = new URL(await beginSignIn(origin, '/app/patient/7', store));
    expect(url.pathname).toBe('/oauth/authorize');
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('client_id')).toBe('ucr-web');
    expect(url.searchParams.get('redirect_uri')).toBe(`${origin}/app/callback`);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    const pending = JSON.parse(store.getItem('ucr.signin') ?? '{}') as { state: string; verifier: string };
    expect(url.searchParams.get('state')).toBe(pending.state);
    expect(url.searchParams.get('code_challenge')).toBe(await codeChallengeS256(pending.verifier));
  });

  it('refuses a callback whose state does not match, without calling the token endpoint', async () => {
    const store = new MemoryStore();
    await beginSignIn(origin, '/app/', store);
    let called = false;
    const fetcher = async () => {
      called = true;
      return new Response('{}');
    };
    await expect(
      completeSignIn(origin, new URLSearchParams({ code: 'c', state: 'forged' }), store, fetcher),
    ).rejects.toBeInstanceOf(SignInError);
    expect(called).toBe(false);
  });

  it('exchanges the code with the verifier and keeps the session for this tab', async () => {
    const store = new MemoryStore();
    await beginSignIn(origin, '/app/patient/7', store);
    const pending = JSON.parse(store.getItem('ucr.signin') ?? '{}') as { state: string; verifier: string };
    let sent = new URLSearchParams();
    const token = fakeJwt({ sub: 'gp', name: 'Demo GP', ucr_role: 'gp' });
    const fetcher = async (_url: string, init: RequestInit) => {
      sent = new URLSearchParams(String(init.body));
      return new Response(JSON.stringify({ access_token: token, expires_in: 900, token_type: 'Bearer' }));
    };
    const now = 1_000_000;
    const { session, returnTo } = await completeSignIn(
      origin,
      new URLSearchParams({ code: 'abc', state: pending.state }),
      store,
      fetcher,
      now,
    );
    expect(sent.get('grant_type')).toBe('authorization_code');
    expect(sent.get('code_verifier')).toBe(pending.verifier);
    expect(sent.get('code')).toBe('abc');
    expect(session.role).toBe('gp');
    expect(session.name).toBe('Demo GP');
    expect(returnTo).toBe('/app/patient/7');
    expect(store.getItem('ucr.signin')).toBeNull();
    expect(loadSession(store, now + 1000)?.accessToken).toBe(token);
    expect(loadSession(store, now + 901_000)).toBeNull();
  });

  it('shows the provider’s error description when sign-in was refused', async () => {
    const store = new MemoryStore();
    await expect(
      completeSignIn(
        origin,
        new URLSearchParams({ error: 'access_denied', error_description: 'the user cancelled' }),
        store,
        async () => new Response('{}'),
      ),
    ).rejects.toThrow('the user cancelled');
  });
});

describe('acting for someone', () => {
  const base = { accessToken: 't', expiresAt: 1, role: 'proxy', name: 'Carer' };
  it('is the chosen person when the proxy may act for them', () => {
    expect(actingFor({ ...base, patient: 'a', patients: ['a', 'b'] }, 'b')).toBe('b');
  });
  it('falls back to the first person for a choice they may not make', () => {
    expect(actingFor({ ...base, patient: 'a', patients: ['a', 'b'] }, 'z')).toBe('a');
    expect(actingFor({ ...base, patients: ['b'] }, null)).toBe('b');
  });
  it('is the patient themself for a patient', () => {
    expect(actingFor({ ...base, role: 'patient', patient: 'me' }, 'other')).toBe('me');
  });
});

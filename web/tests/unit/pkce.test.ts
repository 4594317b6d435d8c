import { describe, expect, it } from 'vitest';
import { base64url, codeChallengeS256, createCodeVerifier, randomToken } from '../../src/lib/pkce';

describe('PKCE', () => {
  it('computes the S256 challenge of the RFC 7636 appendix B example', async () => {
    expect(await codeChallengeS256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });
  it('makes verifiers of allowed characters and length', () => {
    const v = createCodeVerifier();
    expect(v).toMatch(/^[A-Za-z0-9\-._~]{43,128}$/);
  });
  it('never repeats a random token', () => {
    const seen = new Set(Array.from({ length: 100 }, () => randomToken()));
    expect(seen.size).toBe(100);
  });
  it('encodes base64url without padding', () => {
    expect(base64url(new Uint8Array([251, 255]))).toBe('-_8');
  });
});

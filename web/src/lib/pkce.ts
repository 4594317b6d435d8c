// PKCE (RFC 7636) with S256, and the random `state` of the authorization request (RFC 6749 10.12).
// Uses the Web Crypto API, which browsers and Node.js both provide.

/** base64url without padding (RFC 4648 section 5), as PKCE and JWTs use it. */
export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A high-entropy random string of base64url characters from `bytes` random bytes (32 bytes: 43 characters). */
export function randomToken(bytes = 32): string {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  return base64url(buf);
}

/** A code verifier: 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 4.1). */
export function createCodeVerifier(): string {
  return randomToken(48); // 64 characters
}

/** The S256 code challenge: BASE64URL(SHA256(ASCII(verifier))) (RFC 7636 4.2). */
export async function codeChallengeS256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

// A small client for the public FHIR R4 API (base /fhir) with the signed-in user's bearer token.
// Errors carry the server's OperationOutcome diagnostics so the user sees the reason.

export type Resource = {
  resourceType: string;
  id?: string;
  meta?: { lastUpdated?: string; source?: string; versionId?: string };
} & Record<
  string,
  unknown
>;

export interface BundleEntry {
  resource?: Resource;
  search?: { mode?: string; score?: number };
}

export interface Bundle extends Resource {
  total?: number;
  entry?: BundleEntry[];
}

export class FhirError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The diagnostics (or details text) of an OperationOutcome, joined; empty if none. */
export function outcomeText(body: unknown): string {
  if (typeof body !== 'object' || body === null) return '';
  const issues = (body as { issue?: unknown }).issue;
  if (!Array.isArray(issues)) return '';
  const parts: string[] = [];
  for (const i of issues) {
    if (typeof i !== 'object' || i === null) continue;
    const issue = i as { diagnostics?: unknown; details?: { text?: unknown } };
    if (typeof issue.diagnostics === 'string') parts.push(issue.diagnostics);
    else if (typeof issue.details?.text === 'string') parts.push(issue.details.text);
  }
  return parts.join(' ');
}

export class FhirClient {
  constructor(
    private readonly base: string,
    private readonly token: string,
    private readonly onUnauthorised: () => void,
  ) {}

  async request<T = Resource>(path: string, init: RequestInit = {}): Promise<T> {
    const headers = new Headers(init.headers);
    headers.set('Authorization', `Bearer ${this.token}`);
    headers.set('Accept', 'application/fhir+json');
    if (init.body) headers.set('Content-Type', 'application/fhir+json');
    const res = await fetch(`${this.base}/${path}`, { ...init, headers });
    const body: unknown = await res.json().catch(() => null);
    if (res.status === 401) {
      this.onUnauthorised();
      throw new FhirError(401, 'Your session has ended. Please sign in again.');
    }
    if (!res.ok) {
      throw new FhirError(res.status, outcomeText(body) || `The server answered ${res.status}.`);
    }
    return body as T;
  }

  search(type: string, params: Record<string, string>): Promise<Bundle> {
    return this.request<Bundle>(`${type}?${new URLSearchParams(params).toString()}`);
  }
}

/** The resources of a searchset Bundle, matches and includes alike. */
export function resourcesOf(bundle: Bundle | undefined): Resource[] {
  return (bundle?.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
}

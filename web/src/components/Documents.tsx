import { useEffect, useRef, useState } from 'react';
import { formatDate } from '../lib/dates';
import {
  documentAuthor,
  documentContent,
  documentDate,
  documentEncounter,
  documentOrganisation,
  documentStatus,
  documentType,
} from '../lib/documents';
import type { Resource } from '../lib/fhir';
import { type Column, DataTable } from './DataTable';

interface Sources {
  documents: Resource[];
  encounters: Resource[];
  known: Map<string, Resource>;
  organisationOf: Map<string, string>;
}

/** One document: what it is, who wrote it, where it is held, and the letter as plain text. */
export function DocumentView({ doc, sources, onClose }: { doc: Resource; sources: Sources; onClose: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [doc]);
  const content = documentContent(doc);
  const author = documentAuthor(doc, sources.known, sources.organisationOf);
  const organisation = documentOrganisation(doc, sources.known);
  return (
    <section className="nhsuk-card" aria-labelledby="document-heading" data-testid="document">
      <div className="nhsuk-card__content">
        <h3 className="nhsuk-heading-m" id="document-heading" tabIndex={-1} ref={heading}>
          {documentType(doc)}
        </h3>
        <dl className="nhsuk-summary-list">
          {[
            ['Date', formatDate(documentDate(doc) || undefined)],
            ['Written by', author || 'Not recorded'],
            ['Organisation', organisation || 'Not recorded'],
            ['Status', documentStatus(doc)],
            ['About', documentEncounter(doc, sources.encounters)],
            ['Last updated', formatDate(doc.meta?.lastUpdated)],
            ...(doc.meta?.source ? [['Source system', doc.meta.source]] : []),
          ].map(([k, v]) => (
            <div className="nhsuk-summary-list__row" key={k}>
              <dt className="nhsuk-summary-list__key">{k}</dt>
              <dd className="nhsuk-summary-list__value">{v}</dd>
            </div>
          ))}
        </dl>
        {'text' in content ? (
          <div className="ucr-letter" data-testid="letter">
            {content.text}
          </div>
        ) : (
          <p className="nhsuk-body">{content.unavailable}</p>
        )}
        <button type="button" className="nhsuk-button nhsuk-button--secondary" onClick={onClose}>
          Close the document
        </button>
      </div>
    </section>
  );
}

/** The documents of a record as a sortable, filterable list; opening one shows it below the list. */
export function Documents({ sources, heading = 'Documents' }: { sources: Sources; heading?: string }) {
  const [open, setOpen] = useState<Resource | null>(null);
  const organisation = (d: Resource) => documentOrganisation(d, sources.known);
  const columns: Column<Resource>[] = [
    { id: 'date', label: 'Date', sortKey: documentDate, render: (d) => formatDate(documentDate(d) || undefined) },
    {
      id: 'type',
      label: 'Document',
      sortKey: documentType,
      render: (d) => (
        <button type="button" className="ucr-link-button" onClick={() => setOpen(d)}>
          {documentType(d)}
          <span className="nhsuk-u-visually-hidden"> from {formatDate(documentDate(d) || undefined)}</span>
        </button>
      ),
    },
    { id: 'organisation', label: 'Organisation', sortKey: organisation, render: (d) => organisation(d) || 'Not recorded' },
  ];
  return (
    <section aria-labelledby="documents-heading">
      <h2 className="nhsuk-heading-m" id="documents-heading">
        {heading}
      </h2>
      <DataTable
        id="documents"
        caption="Letters and summaries, newest first"
        rows={sources.documents}
        columns={columns}
        rowKey={(d) => d.id ?? ''}
        organisationOf={organisation}
        statusOf={documentType}
        statusLabel="Type"
        empty="No documents."
      />
      {open && <DocumentView doc={open} sources={sources} onClose={() => setOpen(null)} />}
    </section>
  );
}

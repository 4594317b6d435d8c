import { type MouseEvent, type ReactNode, useEffect, useId, useRef } from 'react';
import { navigate } from '../router';

/** An in-app link: a real <a href> (so it opens in a new tab too) that moves without reloading. */
export function Link({ to, children, className }: { to: string; children: ReactNode; className?: string }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} className={className}>
      {children}
    </a>
  );
}

export function Layout({
  children,
  userName,
  onSignOut,
}: {
  children: ReactNode;
  userName?: string;
  onSignOut?: () => void;
}) {
  return (
    <>
      <a className="nhsuk-skip-link" href="#maincontent">
        Skip to main content
      </a>
      <header className="nhsuk-header" role="banner">
        <div className="nhsuk-header__container nhsuk-width-container">
          <div className="nhsuk-header__service">
            <Link to="/app/" className="nhsuk-header__service-logo">
              <span className="nhsuk-header__service-name">Universal Care Record</span>
            </Link>
          </div>
          {userName !== undefined && onSignOut && (
            <nav className="nhsuk-header__account" aria-label="Account">
              <ul className="nhsuk-header__account-list">
                <li className="nhsuk-header__account-item">
                  <span className="ucr-account-name">{userName}</span>
                </li>
                <li className="nhsuk-header__account-item">
                  <button type="button" className="nhsuk-header__account-button" onClick={onSignOut}>
                    Sign out
                  </button>
                </li>
              </ul>
            </nav>
          )}
        </div>
      </header>
      <div className="nhsuk-width-container">
        <main className="nhsuk-main-wrapper" id="maincontent" tabIndex={-1}>
          {children}
        </main>
      </div>
      <footer className="nhsuk-footer" role="contentinfo">
        <div className="nhsuk-width-container">
          <div className="nhsuk-footer__meta">
            <h2 className="nhsuk-u-visually-hidden">About this service</h2>
            <p className="nhsuk-body-s">
              Universal Care Record: one shared health and care record. Every access is recorded in the audit trail.
            </p>
          </div>
        </div>
      </footer>
    </>
  );
}

/** The design system's error summary, focused when it appears so screen readers announce it. */
export function ErrorSummary({ title, items }: { title: string; items: { text: string; href?: string }[] }) {
  const box = useRef<HTMLDivElement>(null);
  const titleId = useId();
  const key = items.map((i) => i.text).join('|');
  // Focus moves to the summary when new errors appear, not on every keystroke that follows.
  useEffect(() => {
    box.current?.focus();
  }, [key]);
  return (
    <div className="nhsuk-error-summary" aria-labelledby={titleId} role="alert" tabIndex={-1} ref={box}>
      <h2 className="nhsuk-error-summary__title" id={titleId}>
        {title}
      </h2>
      <div className="nhsuk-error-summary__body">
        <ul className="nhsuk-list nhsuk-error-summary__list">
          {items.map((i) => (
            <li key={i.text}>{i.href ? <a href={i.href}>{i.text}</a> : i.text}</li>
          ))}
        </ul>
      </div>
    </div>
  );
}

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

/** A page in the header's navigation; `current` marks the page shown, or the section the page shown is in. */
export interface NavItem {
  to: string;
  text: string;
  current: 'page' | 'section' | false;
}

function NavLink({ item }: { item: NavItem }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(item.to);
  };
  return (
    <a
      className="nhsuk-header__navigation-link"
      href={item.to}
      onClick={onClick}
      {...(item.current ? { 'aria-current': item.current === 'page' ? ('page' as const) : ('true' as const) } : {})}
    >
      {/* Bold for the current page even when the reader's own colours override the styles. */}
      {item.current ? <strong className="nhsuk-header__navigation-item-current-fallback">{item.text}</strong> : item.text}
    </a>
  );
}

export function Layout({
  children,
  userName,
  onSignOut,
  navigation,
}: {
  children: ReactNode;
  userName?: string;
  onSignOut?: () => void;
  navigation?: NavItem[];
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
        {navigation && navigation.length > 0 && (
          <nav className="nhsuk-header__navigation" aria-label="Menu">
            <div className="nhsuk-header__navigation-container nhsuk-width-container">
              <ul className="nhsuk-header__navigation-list">
                {navigation.map((item) => (
                  <li
                    className={`nhsuk-header__navigation-item${item.current ? ' nhsuk-header__navigation-item--current' : ''}`}
                    key={item.to}
                  >
                    <NavLink item={item} />
                  </li>
                ))}
              </ul>
            </div>
          </nav>
        )}
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

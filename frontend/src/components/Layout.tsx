import { useEffect, type ReactNode } from "react";
import { Link, NavLink, Outlet, useNavigate } from "react-router";
import { useAuthActions } from "../api/auth";
import { useLoggedIn } from "../api/context";
import { onSessionEnded } from "../api/instance";
import { useMe } from "../api/queries";

export function Layout() {
  const loggedIn = useLoggedIn();
  const me = useMe();
  const { logout } = useAuthActions();
  const navigate = useNavigate();

  // A refresh token the API refused: log in again, then come back here.
  useEffect(
    () =>
      onSessionEnded(() => {
        const { pathname, search } = window.location;
        // A page for logged-in people may already have sent them there.
        if (pathname === "/login" || pathname === "/signup") return;
        navigate(`/login?next=${encodeURIComponent(pathname + search)}`, {
          replace: true,
        });
      }),
    [navigate],
  );

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <div className="bar">
          <Link to="/" className="brand" aria-label="Pamps, home page">
            Pamps
          </Link>
          <nav aria-label="Main">
            <ul>
              <NavItem to="/">Home</NavItem>
              {loggedIn ? (
                <>
                  <NavItem to="/timeline">Timeline</NavItem>
                  {/* Shown once the username is known: a link must go somewhere real. */}
                  {me.data && (
                    <NavItem to={`/@${me.data.username}`}>Profile</NavItem>
                  )}
                  <NavItem to="/settings">Settings</NavItem>
                  <li>
                    <button
                      type="button"
                      className="link-button nav-button"
                      onClick={async () => {
                        await logout();
                        navigate("/");
                      }}
                    >
                      Log out
                    </button>
                  </li>
                </>
              ) : (
                <>
                  <NavItem to="/login">Log in</NavItem>
                  <NavItem to="/signup">Sign up</NavItem>
                </>
              )}
            </ul>
          </nav>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}

function NavItem({ to, children }: { to: string; children: ReactNode }) {
  return (
    <li>
      <NavLink to={to} end>
        {children}
      </NavLink>
    </li>
  );
}

/** A page's title in the tab and its one h1. */
export function PageTitle({
  children,
  title,
}: {
  children: ReactNode;
  title: string;
}) {
  useEffect(() => {
    document.title = `${title} · Pamps`;
  }, [title]);
  return <h1>{children}</h1>;
}

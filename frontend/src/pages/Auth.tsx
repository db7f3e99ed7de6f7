import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useAuthActions } from "../api/auth";
import { useApi } from "../api/context";
import { toApiError, type ApiError } from "../api/errors";
import { Field } from "../components/Field";
import { PageTitle } from "../components/Layout";
import { safeNext } from "../lib/linkify";

export function LoginPage() {
  const api = useApi();
  const { login } = useAuthActions();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [pending, setPending] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      await login(username.trim(), password);
      navigate(next, { replace: true });
    } catch (caught) {
      setError(toApiError(caught));
    } finally {
      setPending(false);
    }
  }

  return (
    <div className="narrow">
      <PageTitle title="Log in">Log in</PageTitle>
      {api.store.ended && !error && (
        <p className="notice" role="status">
          Your session has ended. Please log in again.
        </p>
      )}
      <form onSubmit={submit} className="card form" noValidate>
        <Field
          label="Username"
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          required
          value={username}
          onChange={(event) => setUsername(event.target.value)}
          hint="Your email works too."
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(event) => setPassword(event.target.value)}
        />
        {error && (
          <p role="alert" className="alert">
            {error.message}
          </p>
        )}
        <button type="submit" disabled={pending}>
          Log in
        </button>
      </form>
      <p>
        New here?{" "}
        <Link
          to={`/signup${next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`}
        >
          Create an account
        </Link>
      </p>
    </div>
  );
}

export function SignupPage() {
  const { signup } = useAuthActions();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const [form, setForm] = useState({ email: "", username: "", password: "" });
  const [error, setError] = useState<ApiError | null>(null);
  const [pending, setPending] = useState(false);
  const fields = error?.fields ?? {};

  async function submit(event: FormEvent) {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      await signup({
        ...form,
        email: form.email.trim(),
        username: form.username.trim(),
      });
      navigate(next, { replace: true });
    } catch (caught) {
      setError(toApiError(caught));
    } finally {
      setPending(false);
    }
  }

  const change =
    (name: keyof typeof form) => (event: { target: { value: string } }) =>
      setForm({ ...form, [name]: event.target.value });

  return (
    <div className="narrow">
      <PageTitle title="Sign up">Sign up</PageTitle>
      <form onSubmit={submit} className="card form" noValidate>
        <Field
          label="Email"
          name="email"
          type="email"
          autoComplete="email"
          required
          value={form.email}
          onChange={change("email")}
          error={fields.email}
        />
        <Field
          label="Username"
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          required
          value={form.username}
          onChange={change("username")}
          error={fields.username}
          hint="3 to 30 letters, digits or underscores."
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          value={form.password}
          onChange={change("password")}
          error={fields.password}
          hint="At least 8 characters."
        />
        {error && (
          <p role="alert" className="alert">
            {error.message}
          </p>
        )}
        <button type="submit" disabled={pending}>
          Sign up
        </button>
      </form>
      <p>
        Already have an account? <Link to="/login">Log in</Link>
      </p>
    </div>
  );
}

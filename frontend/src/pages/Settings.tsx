import { useState, type FormEvent } from "react";
import { toApiError, type ApiError } from "../api/errors";
import { useMe, useUpdateMe } from "../api/queries";
import type { UserPrivate, UserUpdate } from "../api/client";
import { ErrorAlert, Spinner } from "../components/Alert";
import { Field } from "../components/Field";
import { PageTitle } from "../components/Layout";

export function SettingsPage() {
  const me = useMe();
  return (
    <div className="narrow">
      <PageTitle title="Settings">Settings</PageTitle>
      {me.isPending ? (
        <Spinner />
      ) : me.isError ? (
        <ErrorAlert error={me.error} onRetry={() => void me.refetch()} />
      ) : (
        <>
          <ProfileForm key={me.data.id} me={me.data} />
          <PasswordForm />
        </>
      )}
    </div>
  );
}

function useSave() {
  const update = useUpdateMe();
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  async function save(changes: UserUpdate): Promise<boolean> {
    setError(null);
    setSaved(false);
    try {
      await update.mutateAsync(changes);
      setSaved(true);
      return true;
    } catch (caught) {
      setError(toApiError(caught));
      return false;
    }
  }
  return { save, error, saved, pending: update.isPending };
}

function ProfileForm({ me }: { me: UserPrivate }) {
  const [bio, setBio] = useState(me.bio ?? "");
  const [avatar, setAvatar] = useState(me.avatar ?? "");
  const [email, setEmail] = useState(me.email);
  const { save, error, saved, pending } = useSave();
  const fields = error?.fields ?? {};

  async function submit(event: FormEvent) {
    event.preventDefault();
    const changes: UserUpdate = {};
    if (bio !== (me.bio ?? "")) changes.bio = bio;
    if (avatar.trim() !== (me.avatar ?? ""))
      changes.avatar = avatar.trim() || null;
    if (email.trim() !== me.email) changes.email = email.trim();
    await save(changes);
  }

  return (
    <form
      className="card form"
      onSubmit={submit}
      aria-labelledby="profile-heading"
      noValidate
    >
      <h2 id="profile-heading">Profile</h2>
      <div className="field">
        <label htmlFor="bio">Bio</label>
        <textarea
          id="bio"
          rows={3}
          value={bio}
          onChange={(event) => setBio(event.target.value)}
          aria-invalid={fields.bio ? true : undefined}
          aria-describedby={fields.bio ? "bio-error" : undefined}
        />
        {fields.bio && (
          <p id="bio-error" className="field-error" role="alert">
            {fields.bio}
          </p>
        )}
      </div>
      <Field
        label="Avatar URL"
        type="url"
        inputMode="url"
        placeholder="https://…"
        value={avatar}
        onChange={(event) => setAvatar(event.target.value)}
        error={fields.avatar}
      />
      <Field
        label="Email"
        type="email"
        autoComplete="email"
        value={email}
        onChange={(event) => setEmail(event.target.value)}
        error={fields.email}
      />
      {error && !Object.keys(fields).length && <ErrorAlert error={error} />}
      {saved && (
        <p role="status" className="notice">
          Profile saved.
        </p>
      )}
      <button type="submit" disabled={pending}>
        Save
      </button>
    </form>
  );
}

function PasswordForm() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const { save, error, saved, pending } = useSave();
  const fields = error?.fields ?? {};

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (await save({ current_password: current, password: next })) {
      setCurrent("");
      setNext("");
    }
  }

  return (
    <form
      className="card form"
      onSubmit={submit}
      aria-labelledby="password-heading"
      noValidate
    >
      <h2 id="password-heading">Password</h2>
      <Field
        label="Current password"
        type="password"
        autoComplete="current-password"
        value={current}
        onChange={(event) => setCurrent(event.target.value)}
        error={fields.current_password}
      />
      <Field
        label="New password"
        type="password"
        autoComplete="new-password"
        value={next}
        onChange={(event) => setNext(event.target.value)}
        error={fields.password}
        hint="At least 8 characters."
      />
      {error && !Object.keys(fields).length && <ErrorAlert error={error} />}
      {saved && (
        <p role="status" className="notice">
          Password changed.
        </p>
      )}
      <button type="submit" disabled={pending}>
        Save
      </button>
    </form>
  );
}

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter, Route, Routes, useParams } from "react-router";
import { toApiError } from "./api/errors";
import { Layout } from "./components/Layout";
import { RequireAuth } from "./components/RequireAuth";
import { LoginPage, SignupPage } from "./pages/Auth";
import { HomePage, TimelinePage } from "./pages/Home";
import { NotFoundPage } from "./pages/NotFound";
import { PostPage } from "./pages/PostPage";
import {
  ProfileFollowers,
  ProfileFollowing,
  ProfileLayout,
  ProfileLikes,
  ProfilePosts,
} from "./pages/Profile";
import { SettingsPage } from "./pages/Settings";

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 15_000,
        // Errors a retry cannot fix are shown at once.
        retry: (count, error) => {
          const status = toApiError(error).status;
          return (status === 0 || status >= 500) && status !== 503 && count < 2;
        },
        refetchOnWindowFocus: false,
      },
    },
  });
}

export function AppRoutes() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<HomePage />} />
        <Route
          path="timeline"
          element={
            <RequireAuth>
              <TimelinePage />
            </RequireAuth>
          }
        />
        <Route path="login" element={<LoginPage />} />
        <Route path="signup" element={<SignupPage />} />
        <Route
          path="settings"
          element={
            <RequireAuth>
              <SettingsPage />
            </RequireAuth>
          }
        />
        <Route path="p/:id" element={<PostPage />} />
        <Route path=":handle" element={<ProfileRoute />}>
          <Route index element={<ProfilePosts />} />
          <Route path="likes" element={<ProfileLikes />} />
          <Route path="followers" element={<ProfileFollowers />} />
          <Route path="following" element={<ProfileFollowing />} />
        </Route>
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

export function App({ queryClient }: { queryClient: QueryClient }) {
  return (
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <AppRoutes />
      </BrowserRouter>
    </QueryClientProvider>
  );
}

// React Router has no "@" prefix segments: /@alice is matched here and any
// other single segment is the 404 page.
function ProfileRoute() {
  const { handle = "" } = useParams();
  if (!handle.startsWith("@") || handle.length < 2) return <NotFoundPage />;
  return <ProfileLayout username={handle.slice(1)} />;
}

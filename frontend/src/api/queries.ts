// Server state lives here, in TanStack Query: lists page with the API's Link
// header; likes and follows are optimistic and roll back on error.
import {
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
  type QueryClient,
} from "@tanstack/react-query";
import {
  unwrap,
  unwrapPage,
  type Api,
  type Page,
  type Post,
  type PostWithReplies,
  type Relationship,
  type UserPrivate,
  type UserProfile,
  type UserPublic,
  type UserUpdate,
} from "./client";
import { useApi, useLoggedIn } from "./context";
import { errorFromResponse, toApiError } from "./errors";
import { nextLink } from "./links";

/** A post as shown: `liked` is the viewer's own like, once known. */
export type ViewPost = Post & { liked?: boolean };

export type PostListKind =
  | { kind: "home" }
  | { kind: "timeline" }
  | { kind: "user"; username: string; replies: boolean }
  | { kind: "likes"; username: string };

export type UserListKind = {
  kind: "followers" | "following";
  username: string;
};

export const keys = {
  me: ["me"] as const,
  posts: ["posts"] as const,
  postList: (list: PostListKind) => ["posts", list] as const,
  post: (id: number) => ["post", id] as const,
  thread: (id: number) => ["thread", id] as const,
  profile: (username: string) => ["profile", username.toLowerCase()] as const,
  users: (list: UserListKind) =>
    ["users", list.kind, list.username.toLowerCase()] as const,
  relationship: (id: number) => ["relationship", id] as const,
};

const PAGE_SIZE = 20;

function firstPostPage(api: Api, list: PostListKind): Promise<Page<Post>> {
  const query = { limit: PAGE_SIZE };
  const { client, origin } = api;
  switch (list.kind) {
    case "home":
      return unwrapPage(client.GET("/post/", { params: { query } }), origin);
    case "timeline":
      return unwrapPage(
        client.GET("/user/timeline", { params: { query } }),
        origin,
      );
    case "user":
      return unwrapPage(
        client.GET("/post/user/{username}/", {
          params: {
            path: { username: list.username },
            query: { ...query, include_replies: list.replies },
          },
        }),
        origin,
      );
    case "likes":
      return unwrapPage(
        client.GET("/post/likes/{username}/", {
          params: { path: { username: list.username }, query },
        }),
        origin,
      );
  }
}

/** The ids of `ids` the viewer liked; an empty set when that cannot be known. */
async function likedIds(api: Api, ids: number[]): Promise<Set<number> | null> {
  if (!ids.length || !api.store.get()) return null;
  try {
    const { data } = await unwrap(
      api.client.GET("/user/me/liked/", {
        params: { query: { post_id: ids } },
      }),
    );
    return new Set(data);
  } catch {
    // The likes are a detail of the list: the posts still show without them.
    return null;
  }
}

/** Posts with the viewer's likes, each also cached on its own for the toggles. */
async function withViewerState(
  api: Api,
  queryClient: QueryClient,
  posts: Post[],
): Promise<ViewPost[]> {
  const liked = await likedIds(
    api,
    posts.map((post) => post.id),
  );
  return posts.map((post) => {
    const view: ViewPost = liked
      ? { ...post, liked: liked.has(post.id) }
      : { ...post };
    queryClient.setQueryData<ViewPost>(keys.post(post.id), view);
    return view;
  });
}

export function usePostList(list: PostListKind) {
  const api = useApi();
  const queryClient = useQueryClient();
  const loggedIn = useLoggedIn();
  return useInfiniteQuery({
    queryKey: [...keys.postList(list), loggedIn],
    queryFn: async ({ pageParam }): Promise<Page<ViewPost>> => {
      const page = pageParam
        ? await api.page<Post>(pageParam)
        : await firstPostPage(api, list);
      return {
        items: await withViewerState(api, queryClient, page.items),
        next: page.next,
      };
    },
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next,
  });
}

/** A post's latest state (likes, edits), shared by every list showing it. */
export function usePost(post: ViewPost): ViewPost {
  const { data } = useQuery({
    queryKey: keys.post(post.id),
    queryFn: () => post,
    initialData: post,
    staleTime: Infinity,
  });
  return data;
}

export function useThread(id: number) {
  const api = useApi();
  const queryClient = useQueryClient();
  const loggedIn = useLoggedIn();
  return useInfiniteQuery({
    queryKey: [...keys.thread(id), loggedIn],
    queryFn: async ({
      pageParam,
    }): Promise<{
      post: ViewPost;
      replies: ViewPost[];
      next: string | null;
    }> => {
      let data: PostWithReplies;
      let next: string | null;
      if (pageParam) {
        const response = await api
          .fetch(new Request(new URL(pageParam, api.origin)))
          .catch((error: unknown) => {
            throw toApiError(error);
          });
        const body: unknown = await response.json().catch(() => null);
        if (!response.ok) throw errorFromResponse(response, body);
        data = body as PostWithReplies;
        next = nextLink(response.headers.get("Link"), api.origin);
      } else {
        const result = await unwrap(
          api.client.GET("/post/{id}/", {
            params: { path: { id }, query: { limit: PAGE_SIZE } },
          }),
        );
        data = result.data;
        next = nextLink(result.response.headers.get("Link"), api.origin);
      }
      const { replies, ...post } = data;
      const [viewPost, ...viewReplies] = await withViewerState(
        api,
        queryClient,
        [post, ...replies],
      );
      return { post: viewPost ?? post, replies: viewReplies, next };
    },
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next,
    retry: (count, error) => toApiError(error).status !== 404 && count < 2,
  });
}

export function useMe() {
  const api = useApi();
  const loggedIn = useLoggedIn();
  return useQuery({
    queryKey: keys.me,
    queryFn: async (): Promise<UserPrivate> =>
      (await unwrap(api.client.GET("/user/me/"))).data,
    enabled: loggedIn,
    staleTime: 60_000,
  });
}

export function useProfile(username: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.profile(username),
    queryFn: async (): Promise<UserProfile> =>
      (
        await unwrap(
          api.client.GET("/user/{username}/", {
            params: { path: { username } },
          }),
        )
      ).data,
    retry: (count, error) => toApiError(error).status !== 404 && count < 2,
  });
}

async function relationships(api: Api, ids: number[]): Promise<Relationship[]> {
  if (!ids.length || !api.store.get()) return [];
  const { data } = await unwrap(
    api.client.GET("/user/me/relationships/", {
      params: { query: { id: ids } },
    }),
  );
  return data;
}

export function useRelationship(userId: number | undefined, enabled: boolean) {
  const api = useApi();
  return useQuery({
    queryKey: keys.relationship(userId ?? 0),
    queryFn: async (): Promise<Relationship> => {
      const [found] = await relationships(api, [userId ?? 0]);
      return found ?? { id: userId ?? 0, following: false, followed_by: false };
    },
    enabled: enabled && userId !== undefined,
    staleTime: 30_000,
  });
}

export function useUserList(list: UserListKind) {
  const api = useApi();
  const queryClient = useQueryClient();
  const loggedIn = useLoggedIn();
  return useInfiniteQuery({
    queryKey: [...keys.users(list), loggedIn],
    queryFn: async ({ pageParam }): Promise<Page<UserPublic>> => {
      const path =
        list.kind === "followers"
          ? ("/user/{username}/followers/" as const)
          : ("/user/{username}/following/" as const);
      const page = pageParam
        ? await api.page<UserPublic>(pageParam)
        : await unwrapPage(
            api.client.GET(path, {
              params: {
                path: { username: list.username },
                query: { limit: PAGE_SIZE },
              },
            }),
            api.origin,
          );
      if (loggedIn) {
        // One request for the whole page says which of them the viewer follows.
        const found = await relationships(
          api,
          page.items.map((user) => user.id),
        ).catch(() => []);
        for (const relationship of found) {
          queryClient.setQueryData(
            keys.relationship(relationship.id),
            relationship,
          );
        }
      }
      return page;
    },
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next,
  });
}

function updatePostEverywhere(
  queryClient: QueryClient,
  id: number,
  update: (post: ViewPost) => ViewPost,
): void {
  const current = queryClient.getQueryData<ViewPost>(keys.post(id));
  if (current) queryClient.setQueryData(keys.post(id), update(current));
}

export function useLike(id: number) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (like: boolean) => {
      const params = { params: { path: { id } } };
      if (like)
        return (await unwrap(api.client.POST("/post/{id}/like/", params))).data;
      await unwrap(api.client.DELETE("/post/{id}/like/", params));
      return null;
    },
    onMutate: async (like: boolean) => {
      await queryClient.cancelQueries({ queryKey: keys.post(id) });
      const before = queryClient.getQueryData<ViewPost>(keys.post(id));
      updatePostEverywhere(queryClient, id, (post) => ({
        ...post,
        liked: like,
        likes_count: Math.max(0, post.likes_count + (like ? 1 : -1)),
      }));
      return { before };
    },
    onError: (_error, _like, context) => {
      if (context?.before)
        queryClient.setQueryData(keys.post(id), context.before);
    },
    onSuccess: (post, like) => {
      if (post)
        updatePostEverywhere(queryClient, id, (view) => ({
          ...view,
          ...post,
          liked: like,
        }));
    },
  });
}

export function useFollow(userId: number, username: string) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (follow: boolean) => {
      const params = { params: { path: { id: userId } } };
      if (follow) await unwrap(api.client.POST("/user/follow/{id}", params));
      else await unwrap(api.client.DELETE("/user/follow/{id}", params));
    },
    onMutate: async (follow: boolean) => {
      await queryClient.cancelQueries({ queryKey: keys.relationship(userId) });
      const before = queryClient.getQueryData<Relationship>(
        keys.relationship(userId),
      );
      const profile = queryClient.getQueryData<UserProfile>(
        keys.profile(username),
      );
      queryClient.setQueryData<Relationship>(keys.relationship(userId), {
        id: userId,
        followed_by: before?.followed_by ?? false,
        following: follow,
      });
      if (profile && (before?.following ?? false) !== follow) {
        queryClient.setQueryData<UserProfile>(keys.profile(username), {
          ...profile,
          followers_count: Math.max(
            0,
            profile.followers_count + (follow ? 1 : -1),
          ),
        });
      }
      return { before, profile };
    },
    onError: (_error, _follow, context) => {
      queryClient.setQueryData(keys.relationship(userId), context?.before);
      if (context?.profile)
        queryClient.setQueryData(keys.profile(username), context.profile);
    },
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: ["users"] });
      void queryClient.invalidateQueries({
        queryKey: keys.postList({ kind: "timeline" }),
      });
    },
  });
}

export function useCreatePost() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (input: {
      text: string;
      parentId?: number;
      idempotencyKey: string;
    }) =>
      (
        await unwrap(
          api.client.POST("/post/", {
            body: { text: input.text, parent_id: input.parentId ?? null },
            headers: { "Idempotency-Key": input.idempotencyKey },
          }),
        )
      ).data,
    onSuccess: (post) => {
      void queryClient.invalidateQueries({ queryKey: keys.posts });
      if (post.parent_id !== null) {
        updatePostEverywhere(queryClient, post.parent_id, (parent) => ({
          ...parent,
          replies_count: parent.replies_count + 1,
        }));
        void queryClient.invalidateQueries({
          queryKey: keys.thread(post.parent_id),
        });
      }
      void queryClient.invalidateQueries({ queryKey: keys.me });
    },
  });
}

export function useEditPost(id: number) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (text: string) =>
      (
        await unwrap(
          api.client.PATCH("/post/{id}/", {
            params: { path: { id } },
            body: { text },
          }),
        )
      ).data,
    onSuccess: (post) => {
      updatePostEverywhere(queryClient, id, (view) => ({ ...view, ...post }));
    },
  });
}

export function useDeletePost(id: number) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async () => {
      await unwrap(
        api.client.DELETE("/post/{id}/", { params: { path: { id } } }),
      );
    },
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: keys.post(id) });
      void queryClient.invalidateQueries({ queryKey: keys.posts });
      void queryClient.invalidateQueries({ queryKey: ["thread"] });
      void queryClient.invalidateQueries({ queryKey: keys.me });
    },
  });
}

export function useUpdateMe() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (changes: UserUpdate) =>
      (await unwrap(api.client.PATCH("/user/me/", { body: changes }))).data,
    onSuccess: (me) => {
      queryClient.setQueryData(keys.me, me);
      void queryClient.invalidateQueries({
        queryKey: keys.profile(me.username),
      });
    },
  });
}

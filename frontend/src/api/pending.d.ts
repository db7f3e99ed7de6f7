// Routes the UI relies on that the generated schema may not list yet. Each
// is dropped here once `npm run gen:api` brings it from the API itself.
export interface PendingPaths {
  "/user/me/liked/": {
    get: {
      parameters: { query: { post_id: number[] } };
      responses: { 200: { content: { "application/json": number[] } } };
    };
  };
  "/user/me/relationships/": {
    get: {
      parameters: { query: { id: number[] } };
      responses: {
        200: {
          content: {
            "application/json": {
              id: number;
              following: boolean;
              followed_by: boolean;
            }[];
          };
        };
      };
    };
  };
  "/logout": {
    post: {
      responses: { 204: { content?: never } };
    };
  };
}

// Routes the UI relies on that the generated schema does not list yet. Each
// is dropped here once `npm run gen:api` brings it from the API itself.
export interface PendingPaths {
  "/logout": {
    post: {
      responses: { 204: { content?: never } };
    };
  };
}

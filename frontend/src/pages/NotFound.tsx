import { Link } from "react-router";
import { PageTitle } from "../components/Layout";

export function NotFoundPage({
  what = "page",
}: {
  what?: "page" | "post" | "person";
}) {
  return (
    <div className="narrow not-found">
      <PageTitle title="Not found">
        {what === "page"
          ? "Page not found"
          : what === "post"
            ? "Post not found"
            : "No such person"}
      </PageTitle>
      <p>
        {what === "post"
          ? "This post does not exist, or it was deleted."
          : what === "person"
            ? "Nobody here has that username."
            : "There is nothing at this address."}
      </p>
      <p>
        <Link to="/">Back to the home page</Link>
      </p>
    </div>
  );
}

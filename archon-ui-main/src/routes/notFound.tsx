import { Link } from "react-router";
import { Empty } from "../components/States";

export default function Route() {
  return (
    <Empty title="Page not found">
      <Link to="/" className="underline">Back to the knowledge base</Link>
    </Empty>
  );
}

import { McpPage } from "../features/mcp/McpPage";

export default function Route() {
  return <McpPage />;
}

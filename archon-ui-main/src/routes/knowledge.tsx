import { KnowledgePage } from "../features/knowledge/KnowledgePage";

export default function Route() {
  return <KnowledgePage />;
}

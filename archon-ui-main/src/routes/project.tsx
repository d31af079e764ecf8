import { useParams } from "react-router";
import { ProjectPage } from "../features/projects/ProjectPage";

export default function Route() {
  const { projectId } = useParams();
  return <ProjectPage projectId={projectId ?? ""} />;
}

import { ProjectsPage } from "../features/projects/ProjectsPage";

export default function Route() {
  return <ProjectsPage />;
}

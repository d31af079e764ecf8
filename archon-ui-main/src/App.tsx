/** Routes: every page is deep-linkable; route files stay thin and delegate to feature pages. */
import { createBrowserRouter, RouterProvider, type RouteObject } from "react-router";
import { Layout } from "./components/Layout";
import KnowledgeRoute from "./routes/knowledge";
import SearchRoute from "./routes/search";
import ProjectsRoute from "./routes/projects";
import ProjectRoute from "./routes/project";
import McpRoute from "./routes/mcp";
import SettingsRoute from "./routes/settings";
import NotFoundRoute from "./routes/notFound";

export const routes: RouteObject[] = [
  {
    element: <Layout />,
    children: [
      { index: true, element: <KnowledgeRoute /> },
      { path: "search", element: <SearchRoute /> },
      { path: "projects", element: <ProjectsRoute /> },
      { path: "projects/:projectId", element: <ProjectRoute /> },
      { path: "mcp", element: <McpRoute /> },
      { path: "settings", element: <SettingsRoute /> },
      { path: "*", element: <NotFoundRoute /> },
    ],
  },
];

export function App() {
  return <RouterProvider router={createBrowserRouter(routes)} />;
}

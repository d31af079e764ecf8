/** Routes: every page is deep-linkable; route files stay thin and are loaded on demand. */
import { lazy, Suspense, type ReactNode } from "react";
import { createBrowserRouter, RouterProvider, type RouteObject } from "react-router";
import { Layout } from "./components/Layout";
import { Loading } from "./components/States";

const KnowledgeRoute = lazy(() => import("./routes/knowledge"));
const SearchRoute = lazy(() => import("./routes/search"));
const ProjectsRoute = lazy(() => import("./routes/projects"));
const ProjectRoute = lazy(() => import("./routes/project"));
const McpRoute = lazy(() => import("./routes/mcp"));
const SettingsRoute = lazy(() => import("./routes/settings"));
const NotFoundRoute = lazy(() => import("./routes/notFound"));

const page = (node: ReactNode) => <Suspense fallback={<Loading label="Loading page…" />}>{node}</Suspense>;

export const routes: RouteObject[] = [
  {
    element: <Layout />,
    children: [
      { index: true, element: page(<KnowledgeRoute />) },
      { path: "search", element: page(<SearchRoute />) },
      { path: "projects", element: page(<ProjectsRoute />) },
      { path: "projects/:projectId", element: page(<ProjectRoute />) },
      { path: "mcp", element: page(<McpRoute />) },
      { path: "settings", element: page(<SettingsRoute />) },
      { path: "*", element: page(<NotFoundRoute />) },
    ],
  },
];

export function App() {
  return <RouterProvider router={createBrowserRouter(routes)} />;
}

import { SearchPage } from "../features/search/SearchPage";

export default function Route() {
  return <SearchPage />;
}

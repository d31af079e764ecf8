import { SettingsPage } from "../features/settings/SettingsPage";

export default function Route() {
  return <SettingsPage />;
}

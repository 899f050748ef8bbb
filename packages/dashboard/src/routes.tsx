import type { ReactNode } from 'react';
import { DesiredPage } from './pages/desired.tsx';
import { FaultPage } from './pages/fault-detail.tsx';
import { FaultsPage } from './pages/faults.tsx';
import { FleetPage } from './pages/fleet.tsx';
import { InstancePage } from './pages/fleet-instance.tsx';
import { LogsPage } from './pages/logs.tsx';
import { ReleasesPage } from './pages/releases.tsx';
import { RolloutsPage } from './pages/rollouts.tsx';
import { SettingsPage } from './pages/settings.tsx';
import { UsagePage } from './pages/usage/index.tsx';

export interface PageRoute {
  path: string;
  /** Its label in the navigation; none for detail pages reached from a list. */
  label?: string;
  element: ReactNode;
}

/** One line per page: its path, its label in the navigation, and what it renders. */
export const pages: PageRoute[] = [
  { path: 'usage', label: 'Usage', element: <UsagePage /> },
  { path: 'releases', label: 'Releases', element: <ReleasesPage /> },
  { path: 'desired', label: 'Desired versions', element: <DesiredPage /> },
  { path: 'rollouts', label: 'Rollouts', element: <RolloutsPage /> },
  { path: 'fleet', label: 'Fleet', element: <FleetPage /> },
  { path: 'fleet/instances/:id', element: <InstancePage /> },
  { path: 'logs', label: 'Logs', element: <LogsPage /> },
  { path: 'faults', label: 'Faults', element: <FaultsPage /> },
  { path: 'faults/:id', element: <FaultPage /> },
  { path: 'settings', label: 'Settings', element: <SettingsPage /> },
];

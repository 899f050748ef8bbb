import { type ComponentType, lazy, type ReactNode } from 'react';

export interface PageRoute {
  path: string;
  /** Its label in the navigation; none for detail pages reached from a list. */
  label?: string;
  /** The document title's first part when it is not the label: a detail page's, from the URL's parameters. */
  title?: (params: Readonly<Record<string, string | undefined>>) => string;
  element: ReactNode;
}

/**
 * A page loaded on first visit, in a chunk of its own: the first paint does not wait for code
 * (the Usage page's charts and world map above all) that another page needs.
 */
function page<K extends string>(load: () => Promise<Record<K, ComponentType>>, name: K): ReactNode {
  const Page = lazy<ComponentType>(async () => ({ default: (await load())[name] }));
  return <Page />;
}

/** One line per page: its path, its label in the navigation, and what it renders. */
export const pages: PageRoute[] = [
  { path: 'usage', label: 'Usage', element: page(() => import('./pages/usage/index.tsx'), 'UsagePage') },
  { path: 'releases', label: 'Releases', element: page(() => import('./pages/releases.tsx'), 'ReleasesPage') },
  { path: 'builds', label: 'Builds', element: page(() => import('./pages/builds.tsx'), 'BuildsPage') },
  {
    path: 'builds/:id',
    title: (p) => `Build ${p.id}`,
    element: page(() => import('./pages/build-detail.tsx'), 'BuildPage'),
  },
  { path: 'desired', label: 'Desired versions', element: page(() => import('./pages/desired.tsx'), 'DesiredPage') },
  { path: 'rollouts', label: 'Rollouts', element: page(() => import('./pages/rollouts.tsx'), 'RolloutsPage') },
  { path: 'fleet', label: 'Fleet', element: page(() => import('./pages/fleet.tsx'), 'FleetPage') },
  {
    path: 'fleet/instances/:id',
    title: (p) => `Instance ${p.id}`,
    element: page(() => import('./pages/fleet-instance.tsx'), 'InstancePage'),
  },
  { path: 'logs', label: 'Logs', element: page(() => import('./pages/logs.tsx'), 'LogsPage') },
  { path: 'faults', label: 'Faults', element: page(() => import('./pages/faults.tsx'), 'FaultsPage') },
  {
    path: 'faults/:id',
    title: () => 'Fault report',
    element: page(() => import('./pages/fault-detail.tsx'), 'FaultPage'),
  },
  { path: 'drift', label: 'Drift', element: page(() => import('./pages/drift.tsx'), 'DriftPage') },
  {
    path: 'drift/subjects/:subject',
    title: (p) => `Drift of ${p.subject}`,
    element: page(() => import('./pages/drift-subject.tsx'), 'DriftSubjectPage'),
  },
  {
    path: 'drift/upstreams',
    title: () => 'Drift upstreams',
    element: page(() => import('./pages/drift-upstreams.tsx'), 'DriftUpstreamsPage'),
  },
  { path: 'mesh', label: 'Mesh', element: page(() => import('./pages/mesh.tsx'), 'MeshPage') },
  { path: 'consumers', label: 'Consumers', element: page(() => import('./pages/consumers.tsx'), 'ConsumersPage') },
  { path: 'settings', label: 'Settings', element: page(() => import('./pages/settings.tsx'), 'SettingsPage') },
];

import { Link, useSearchParams } from 'react-router';
import { useCan } from '../session.tsx';
import { AuditTab } from './settings-audit.tsx';
import { EnvironmentsTab } from './settings-environments.tsx';
import { TokensTab } from './settings-tokens.tsx';
import { TrashTab } from './settings-trash.tsx';
import { UsersTab } from './settings-users.tsx';

const tabs = [
  { id: 'users', label: 'Users', admin: true },
  { id: 'tokens', label: 'Tokens', admin: false },
  { id: 'environments', label: 'Environments', admin: false },
  { id: 'trash', label: 'Deleted', admin: false },
  { id: 'audit', label: 'Audit log', admin: true },
] as const;

export function SettingsPage() {
  const [params] = useSearchParams();
  const isAdmin = useCan('admin');
  const visible = tabs.filter((t) => isAdmin || !t.admin);
  const tab = visible.find((t) => t.id === params.get('tab'))?.id ?? visible[0]?.id ?? 'tokens';
  return (
    <>
      <h2>Settings</h2>
      <nav className="tabs" aria-label="Settings sections">
        {visible.map((t) => (
          <Link key={t.id} className="tab" to={`?tab=${t.id}`} aria-current={t.id === tab ? 'page' : undefined}>
            {t.label}
          </Link>
        ))}
      </nav>
      {tab === 'users' ? <UsersTab /> : null}
      {tab === 'tokens' ? <TokensTab /> : null}
      {tab === 'environments' ? <EnvironmentsTab /> : null}
      {tab === 'trash' ? <TrashTab /> : null}
      {tab === 'audit' ? <AuditTab /> : null}
    </>
  );
}

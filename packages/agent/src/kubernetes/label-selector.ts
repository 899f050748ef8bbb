// A tracker's `metav1.LabelSelector` as the API's `labelSelector` query string, so the API server
// filters (a watch never streams objects the tracker does not select).

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: readonly string[];
}

export interface LabelSelector {
  matchLabels?: Readonly<Record<string, string>>;
  matchExpressions?: readonly LabelSelectorRequirement[];
}

export class LabelSelectorError extends Error {
  override name = 'LabelSelectorError';
}

// Kubernetes' label syntax: an optional DNS-subdomain prefix, a name of at most 63 characters.
const NAME = /^(?=.{1,63}$)[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const PREFIX = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
const VALUE = /^(?:|(?=.{1,63}$)[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?)$/;

function checkKey(key: string, where: string): string {
  const slash = key.lastIndexOf('/');
  const [prefix, name] = slash === -1 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (!NAME.test(name) || (prefix !== undefined && !PREFIX.test(prefix))) {
    throw new LabelSelectorError(`${where}: invalid label key ${JSON.stringify(key)}`);
  }
  return key;
}

function checkValue(value: unknown, where: string): string {
  if (typeof value !== 'string' || !VALUE.test(value)) {
    throw new LabelSelectorError(`${where}: invalid label value ${JSON.stringify(value)}`);
  }
  return value;
}

/** `app=web,tier in (a,b),!legacy`; an empty selector is the empty string (everything). */
export function labelSelectorString(selector: LabelSelector | undefined): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    parts.push(`${checkKey(key, 'matchLabels')}=${checkValue(value, `matchLabels.${key}`)}`);
  }
  (selector?.matchExpressions ?? []).forEach((requirement, index) => {
    const where = `matchExpressions[${index}]`;
    const key = checkKey(requirement.key, where);
    const values = requirement.values ?? [];
    switch (requirement.operator) {
      case 'In':
      case 'NotIn': {
        if (values.length === 0) throw new LabelSelectorError(`${where}: ${requirement.operator} needs values`);
        const list = [...values].map((value) => checkValue(value, where)).sort();
        parts.push(`${key} ${requirement.operator === 'In' ? 'in' : 'notin'} (${list.join(',')})`);
        break;
      }
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) throw new LabelSelectorError(`${where}: ${requirement.operator} takes no values`);
        parts.push(requirement.operator === 'Exists' ? key : `!${key}`);
        break;
      default:
        throw new LabelSelectorError(
          `${where}: unknown operator ${JSON.stringify(requirement.operator)} (In, NotIn, Exists, DoesNotExist)`,
        );
    }
  });
  return parts.join(',');
}

import { CliError } from '../api-client.ts';
import { isMacroName } from '../build/macros.ts';

/**
 * The parser of a repeatable `--macro name=value`: collects the values, refusing a bad name and the
 * macros Flotilla sets itself (`setBy` says who, for the message).
 */
export function macroOption(setBy: string) {
  return (text: string, previous: Record<string, string>): Record<string, string> => {
    const eq = text.indexOf('=');
    const name = eq < 0 ? '' : text.slice(0, eq);
    if (!isMacroName(name)) throw new CliError(`--macro ${text}: expected name=value`, 2);
    if (name === 'version' || name === 'role') {
      throw new CliError(`--macro ${name}: %%${name}%% is set by ${setBy}, not on the command line`, 2);
    }
    return { ...previous, [name]: text.slice(eq + 1) };
  };
}

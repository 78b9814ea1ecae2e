import { describe, expect, it } from 'vitest';
import { COMMANDS, selectCommand } from '../../src/cli/command-index.js';

describe('CLI command index (lazy loading)', () => {
  it('lists each command as its module declares it', async () => {
    for (const entry of COMMANDS) {
      const mod = await entry.load();
      expect({ command: mod.command, aliases: mod.aliases ?? [], describe: mod.describe }).toEqual({
        command: entry.command,
        aliases: entry.aliases ?? [],
        describe: entry.describe,
      });
    }
  });

  it('selects the command named by the first positional, skipping global option values', () => {
    const name = (args: string[]) => selectCommand(args)?.command.split(' ')[0];
    expect(name(['status', '--json'])).toBe('status');
    expect(name(['--url', 'pglite:memory', 'up'])).toBe('up');
    expect(name(['--url=pglite:memory', '--json', 'demo', '--workspaces', '5'])).toBe('demo');
    expect(name(['--config', 'status', 'render', 'x'])).toBe('render');
    expect(name(['lint'])).toBe('validate');
    expect(name(['--help'])).toBeUndefined();
    expect(name(['stauts'])).toBeUndefined();
    expect(name(['--', 'up'])).toBeUndefined();
  });
});

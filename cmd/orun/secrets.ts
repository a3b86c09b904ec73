/**
 * `orun secrets`: create and read the repository's SOPS files without the sops command (Debian
 * has none). Flags here; what each subcommand does is in runtime/cli/secrets.ts.
 *
 *   encrypt FILE        whole file; recipients from --age or the nearest .sops.yaml creation_rules
 *   encrypt-value       an inline ENC[...] for one Deployment env key, under secrets.yaml's data key
 *   decrypt FILE        plaintext YAML on stdout (needs a key)
 *   edit FILE           $EDITOR on a plaintext copy in a tmpfs, encrypted again with the same data key
 *   check [FILE...]     decrypts and verifies MACs with the node's key; prints no value
 *   updatekeys FILE...  the data key wrapped for the recipients .sops.yaml names now
 */
import { Command } from 'commander';
import * as run from '../../runtime/cli/secrets.ts';
import { DEFAULTS } from '../../runtime/config/settings.ts';

const KEY_HELP = `age key file; default $SOPS_AGE_KEY_FILE, then <data-dir>/keys/age.key (data dir ${DEFAULTS.dataDir})`;

export function secretsCommand(): Command {
  const cmd = new Command('secrets')
    .exitOverride()
    .description('create, read and check SOPS (age) files in the sops format, without the sops command');
  cmd
    .command('encrypt')
    .description(
      'encrypt a whole YAML file (comments and all documents kept) and print it, or write it with -i',
    )
    .argument('<FILE>', 'plaintext YAML, e.g. secrets.yaml')
    .option(
      '--age <recipient>',
      'age recipient (age1...); repeatable; default: the .sops.yaml creation rule',
      collect,
    )
    .option('--config <file>', '.sops.yaml to read creation_rules from; default: the nearest one upwards')
    .option('--encrypted-regex <re>', 'encrypt only values under keys matching this')
    .option(
      '--unencrypted-suffix <s>',
      'keep values under keys ending with this in clear (sops default _unencrypted)',
    )
    .option('-i, --in-place', 'replace FILE instead of printing')
    .action(run.encryptFile);
  cmd
    .command('encrypt-value')
    .description("print an inline ENC[...] for one Deployment env key, sealed with secrets.yaml's data key")
    .requiredOption('--deployment <name>', 'the Deployment (the value is bound to it)')
    .requiredOption('--key <ENV>', 'the env key under spec.env (the value is bound to it)')
    .option('--secrets <file>', 'the root secrets.yaml holding the data key', 'secrets.yaml')
    .option('--age-key <file>', KEY_HELP)
    .argument('[VALUE]', 'the plaintext; default: read from stdin (safer: not in shell history)')
    .action(run.encryptValue);
  cmd
    .command('decrypt')
    .description('print the plaintext of a SOPS YAML file (MAC verified)')
    .argument('<FILE>')
    .option('--age-key <file>', KEY_HELP)
    .action(run.decryptFile);
  cmd
    .command('edit')
    .description('edit a SOPS file in $EDITOR: the plaintext copy lives in a tmpfs, never on disk')
    .argument('<FILE>')
    .option('--age-key <file>', KEY_HELP)
    .option('--tmp-dir <dir>', 'tmpfs directory for the plaintext copy', '/dev/shm')
    .action(run.editFile);
  cmd
    .command('check')
    .description("decrypt and verify the MAC of each file with the node's key; exit 1 on any failure")
    .argument('[FILE...]', 'SOPS files; default secrets.yaml')
    .option('--age-key <file>', KEY_HELP)
    .action(run.checkFiles);
  cmd
    .command('updatekeys')
    .description(
      "wrap each file's data key for the recipients its .sops.yaml creation rule names now (as sops updatekeys), " +
        "e.g. after adding a node's key; values, MAC and data key stay, so inline ENC[...] values keep working",
    )
    .argument('<FILE...>', 'SOPS files, e.g. secrets.yaml')
    .option(
      '--age <recipient>',
      'age recipient (age1...); repeatable; default: the .sops.yaml creation rule',
      collect,
    )
    .option('--config <file>', '.sops.yaml to read creation_rules from; default: the nearest one upwards')
    .option('--age-key <file>', KEY_HELP)
    .option('-y, --yes', 'also remove recipients no longer named (refused without it, as sops asks)')
    .action(run.updateFileKeys);
  return cmd;
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/**
 * The decode worker's entry (see decoder.ts): decodes one manifest file per message with the
 * same `decodeManifestFile` as `orun validate`, and answers with its plain data. Bundled on its
 * own (dist/decode-worker.cjs; an asset of the single executable), so it loads only the decoder.
 */
import { parentPort } from 'node:worker_threads';
import { decodeManifestFile, toDecodedData } from '../../apis/run.orcra.dev/v0alpha/decode.ts';
import type { DecodeReply, DecodeRequest } from './decoder.ts';

const port = parentPort;
port?.on('message', (req: DecodeRequest) => {
  const reply: DecodeReply = {
    id: req.id,
    data: toDecodedData(decodeManifestFile(req.path, req.text, req.options)),
  };
  port.postMessage(reply);
});

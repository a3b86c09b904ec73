import { describe, expect, it } from 'vitest';
import { OrunError } from '../../apis/errors.ts';
import { DockerErrorCode } from './engine.ts';
import { classify, toOrunError } from './errors.ts';

/** Engine errors as dockerode raises them (status + JSON body), texts as dockerd 20.10 sends them. */
const engineError = (statusCode: number, message: string): object => ({ statusCode, json: { message } });

describe('classify', () => {
  it.each([
    [
      engineError(
        500,
        'driver failed programming external connectivity on endpoint x (abc): Bind for 0.0.0.0:18081 failed: port is already allocated',
      ),
      DockerErrorCode.HostPortConflict,
    ],
    [
      engineError(500, 'listen tcp4 0.0.0.0:80: bind: address already in use'),
      DockerErrorCode.HostPortConflict,
    ],
    [
      engineError(400, 'invalid mount config for type "bind": bind source path does not exist: /nonexist/a'),
      DockerErrorCode.InvalidMount,
    ],
    [
      engineError(
        409,
        'Conflict. The container name "/web" is already in use by container "0d26". You have to remove (or rename) that container to be able to reuse that name.',
      ),
      DockerErrorCode.NameConflict,
    ],
    [
      engineError(
        400,
        'create bad/name: "bad/name" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path',
      ),
      DockerErrorCode.InvalidMount,
    ],
    [
      engineError(
        500,
        'OCI runtime create failed: runc create failed: unable to start container process: error during container init: error setting cgroup config for procHooks process: open /sys/fs/cgroup/system.slice/docker-abc.scope/io.bfq.weight: no such file or directory: unknown',
      ),
      DockerErrorCode.ResourceUnsupported,
    ],
    [
      engineError(
        500,
        'crun: opening file `blkio.weight` for writing: No such file or directory: OCI runtime error',
      ),
      DockerErrorCode.ResourceUnsupported,
    ],
    [
      engineError(400, 'Conflicting options: Nano CPUs and CPU Period cannot both be set'),
      DockerErrorCode.InvalidSpec,
    ],
    [engineError(400, 'Minimum memory limit allowed is 6MB'), DockerErrorCode.InvalidSpec],
    [
      engineError(400, 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available'),
      DockerErrorCode.InvalidSpec,
    ],
    [
      engineError(500, 'unable to find user nosuchuser: no matching entries in passwd file'),
      DockerErrorCode.CannotRun,
    ],
    [
      engineError(
        400,
        'failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/nonexistent": stat /nonexistent: no such file or directory: unknown',
      ),
      DockerErrorCode.CannotRun,
    ],
    [
      engineError(
        500,
        'failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: environment variable value can\'t contain null(\\x00): "A=x\\x00y": unknown',
      ),
      DockerErrorCode.CannotRun,
    ],
    [engineError(404, 'No such image: orun-test/nope:1'), DockerErrorCode.ImageNotFound],
    [engineError(404, 'No such container: abc'), DockerErrorCode.ContainerNotFound],
    [engineError(500, 'something else'), DockerErrorCode.RequestFailed],
    [
      Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { code: 'ENOENT' }),
      DockerErrorCode.Unavailable,
    ],
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), DockerErrorCode.Unavailable],
  ])('%j → %s', (err, code) => {
    expect(classify(err)).toBe(code);
  });
});

describe('toOrunError', () => {
  it('names the step, keeps the engine text, the cause and the HTTP status', () => {
    const cause = engineError(404, 'No such image: x:1');
    const err = toOrunError('create container web', cause, { container: 'web' });
    expect(err).toBeInstanceOf(OrunError);
    expect(err).toMatchObject({
      code: DockerErrorCode.ImageNotFound,
      message: 'docker: create container web: No such image: x:1',
      context: { container: 'web', httpStatus: 404 },
      cause,
    });
  });

  it('passes an OrunError through unchanged', () => {
    const err = new OrunError('X', 'y');
    expect(toOrunError('step', err)).toBe(err);
  });
});

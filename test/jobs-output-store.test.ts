import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { jobOutputStore, removeJobOutputs } from '../src/jobs/output-store';
import { temporaryDir } from './jobs-helpers';

describe('job output store', () => {
  let root: string;
  let removeRoot: () => Promise<void>;
  const jobId = '0b6c1c3e-2f5e-4b7a-9d55-7b5d1f0e9a11';

  beforeEach(async () => {
    ({ dir: root, remove: removeRoot } = await temporaryDir('output-store'));
  });
  afterEach(() => removeRoot());

  it('resolves paths inside the job folder', () => {
    const store = jobOutputStore(root, jobId);
    expect(store.dir).toBe(path.join(root, jobId));
    expect(store.path('mosaic.tif')).toBe(path.join(root, jobId, 'mosaic.tif'));
    expect(store.path('tiles/./0/1.tif')).toBe(path.join(root, jobId, 'tiles', '0', '1.tif'));
  });

  it.each(['..', '../other/file', 'a/../../escape', 'a/../b', '/etc/passwd', '\\windows\\file', 'C:\\file', 'a\0b', '', '.', './'])(
    'refuses the path %j',
    (relative) => {
      const store = jobOutputStore(root, jobId);
      expect(() => store.path(relative)).toThrow();
      expect(() => store.href(relative)).toThrow();
    },
  );

  it('refuses job ids that are not one plain folder name', () => {
    for (const bad of ['..', '../x', 'a/b', '', '.hidden']) expect(() => jobOutputStore(root, bad)).toThrow('invalid job id');
  });

  it('builds job-relative hrefs with URL-encoded segments', () => {
    const store = jobOutputStore(root, jobId);
    expect(store.href('mosaic.tif')).toBe(`/jobs/${jobId}/files/mosaic.tif`);
    expect(store.href('sub dir/a b#1?.tif')).toBe(`/jobs/${jobId}/files/sub%20dir/a%20b%231%3F.tif`);
  });

  it('writes through a temporary file and leaves only the final one', async () => {
    const store = jobOutputStore(root, jobId);
    await store.writeFile('nested/deeper/result.json', '{"a":1}');
    await store.writeFile('nested/deeper/result.json', new Uint8Array([123, 125]));
    expect(await readFile(store.path('nested/deeper/result.json'), 'utf8')).toBe('{}');
    expect(await readdir(path.join(store.dir, 'nested', 'deeper'))).toEqual(['result.json']);
  });

  it('leaves no temporary file behind when the rename fails', async () => {
    const store = jobOutputStore(root, jobId);
    await mkdir(store.path('taken/inner'), { recursive: true });
    await expect(store.writeFile('taken', 'data')).rejects.toThrow();
    expect(await readdir(store.dir)).toEqual(['taken']);
    expect((await stat(store.path('taken'))).isDirectory()).toBe(true);
  });

  it('removes the job folder, and accepts a folder that does not exist', async () => {
    const store = jobOutputStore(root, jobId);
    await store.writeFile('a/b.txt', 'x');
    await removeJobOutputs(root, jobId);
    await expect(stat(store.dir)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(removeJobOutputs(root, jobId)).resolves.toBeUndefined();
    await expect(removeJobOutputs(root, '../escape')).rejects.toThrow('invalid job id');
  });
});

// Where ../shared/fixtures is: beside the repository (the layout CI uses), found from this
// file whether it runs from test/ (tsx) or dist/test/ (compiled). REMORA_SHARED overrides.
import * as fs from 'node:fs';
import * as path from 'node:path';

function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..');
}

export const SHARED = process.env.REMORA_SHARED || path.resolve(repoRoot(), '..', 'shared');
export const FIXTURES = path.join(SHARED, 'fixtures');

import * as fs from 'node:fs';
import * as path from 'node:path';

function findPackageVersion(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const p = path.join(dir, 'package.json');
    if (fs.existsSync(p)) {
      const pkg = JSON.parse(fs.readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'remora' && pkg.version) return pkg.version;
    }
    dir = path.dirname(dir);
  }
  return '0.0.0';
}

export const VERSION_NUMBER: string = findPackageVersion();
/** Envoy prints "<sha>/<version>/<status>/<build type>/<ssl>"; remora prints its own equivalent. */
export const VERSION = `${VERSION_NUMBER}/node-${process.version}/RELEASE/OpenSSL-${process.versions.openssl ?? 'none'}`;

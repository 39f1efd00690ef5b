import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = new URL('..', import.meta.url).pathname

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  )
}

describe('@hive/schema', () => {
  it('depends on zod only', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    expect(Object.keys(manifest.dependencies ?? {})).toEqual(['zod'])
    expect(manifest.peerDependencies).toBeUndefined()
  })

  it('imports nothing but zod and its own modules', () => {
    const files = sources(join(root, 'src'))
    expect(files.length).toBeGreaterThan(5)
    const imported = new Set<string>()
    for (const file of files) {
      for (const match of readFileSync(file, 'utf8').matchAll(
        /^(?:import|export)\s[^'";=]*?\bfrom\s+'([^']+)'|^import\s+'([^']+)'/gm,
      )) {
        imported.add((match[1] ?? match[2])!)
      }
    }
    const outside = [...imported].filter((spec) => !spec.startsWith('.'))
    expect(outside).toEqual(['zod'])
  })
})

/**
 * No declared profile field is ignored: every property of the `Profile` type (core/profiles/types.ts),
 * at every depth, is read somewhere in the product code outside the profile tables. Uses the
 * TypeScript language service's "find all references" on each property declaration, so a field
 * that only the tables (and tests) mention fails here with its path.
 */
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TYPES = join(ROOT, 'core/profiles/types.ts');
/** Files that declare data (the tables) rather than read it. */
const TABLES = /^core\/profiles\/(types|common|cdr|fapi2|obie-3\.[123]|openfinance-br|rfc7591)\.ts$/;

function languageService(): ts.LanguageService {
  const configPath = join(ROOT, 'tsconfig.json');
  const parsed = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, ROOT);
  const files = parsed.fileNames.filter((f) => !relative(ROOT, f).startsWith('test/'));
  const host: ts.LanguageServiceHost = {
    getScriptFileNames: () => files,
    getScriptVersion: () => '1',
    getScriptSnapshot: (name) => (ts.sys.fileExists(name) ? ts.ScriptSnapshot.fromString(ts.sys.readFile(name) ?? '') : undefined),
    getCurrentDirectory: () => ROOT,
    getCompilationSettings: () => parsed.options,
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: ts.sys.fileExists,
    readFile: ts.sys.readFile,
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  };
  return ts.createLanguageService(host, ts.createDocumentRegistry());
}

interface Field {
  path: string;
  declaration: ts.PropertySignature;
}

/** Every property signature reachable from `Profile` through type literals and interfaces/aliases declared in types.ts. */
function profileFields(source: ts.SourceFile): Field[] {
  const declarations = new Map<string, ts.InterfaceDeclaration | ts.TypeAliasDeclaration>();
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) declarations.set(node.name.text, node);
  });
  const fields: Field[] = [];
  const seen = new Set<string>();
  const visitType = (type: ts.TypeNode | undefined, prefix: string): void => {
    if (!type) return;
    if (ts.isTypeLiteralNode(type)) return visitMembers(type.members, prefix);
    if (ts.isUnionTypeNode(type) || ts.isIntersectionTypeNode(type)) return type.types.forEach((t) => visitType(t, prefix));
    if (ts.isParenthesizedTypeNode(type)) return visitType(type.type, prefix);
    if (ts.isTypeReferenceNode(type) && ts.isIdentifier(type.typeName)) {
      const name = type.typeName.text;
      if (name === 'Readonly' || name === 'ReadonlyArray') return type.typeArguments?.forEach((t) => visitType(t, prefix));
      const target = declarations.get(name);
      if (!target || seen.has(`${prefix}:${name}`)) return;
      seen.add(`${prefix}:${name}`);
      if (ts.isInterfaceDeclaration(target)) return visitMembers(target.members, prefix);
      return visitType(target.type, prefix);
    }
  };
  const visitMembers = (members: ts.NodeArray<ts.TypeElement>, prefix: string): void => {
    for (const member of members) {
      if (!ts.isPropertySignature(member) || !member.name || !ts.isIdentifier(member.name)) continue;
      const path = prefix ? `${prefix}.${member.name.text}` : member.name.text;
      fields.push({ path, declaration: member });
      visitType(member.type, path);
    }
  };
  const profile = declarations.get('Profile');
  if (!profile || !ts.isInterfaceDeclaration(profile)) throw new Error('no Profile interface in types.ts');
  visitMembers(profile.members, '');
  return fields;
}

/** The property declarations each identifier outside the tables reads (property access, destructuring, `in`-free member reads). */
function readDeclarations(program: ts.Program): Set<ts.Declaration> {
  const checker = program.getTypeChecker();
  const read = new Set<ts.Declaration>();
  const add = (symbol: ts.Symbol | undefined) => {
    for (const d of symbol?.declarations ?? []) read.add(d);
    // A property of a union (e.g. RolesShape) is a synthetic symbol over its members' declarations.
    const links = symbol as (ts.Symbol & { links?: { containingType?: ts.UnionType } }) | undefined;
    const union = links?.links?.containingType;
    if (union?.types) for (const t of union.types) for (const d of t.getProperty(symbol!.name)?.declarations ?? []) read.add(d);
  };
  for (const file of program.getSourceFiles()) {
    const rel = relative(ROOT, file.fileName);
    if (file.isDeclarationFile || rel.startsWith('node_modules') || rel.startsWith('..') || rel.startsWith('test/') || TABLES.test(rel)) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAccessExpression(node)) {
        add(checker.getSymbolAtLocation(node.name));
        const type = checker.getTypeAtLocation(node.expression);
        if (type.isUnion()) for (const t of type.types) add(t.getProperty(node.name.text));
      } else if (ts.isBindingElement(node) && ts.isObjectBindingPattern(node.parent)) {
        const key = node.propertyName ?? node.name;
        if (ts.isIdentifier(key)) {
          const type = checker.getTypeAtLocation(node.parent);
          add(type.getProperty(key.text));
          if (type.isUnion()) for (const t of type.types) add(t.getProperty(key.text));
        }
      } else if (ts.isElementAccessExpression(node) && ts.isStringLiteral(node.argumentExpression)) {
        add(checker.getTypeAtLocation(node.expression).getProperty(node.argumentExpression.text));
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return read;
}

describe('every field of the Profile type is read by the product code', () => {
  const program = languageService().getProgram();
  const source = program?.getSourceFile(TYPES);
  if (!program || !source) throw new Error('core/profiles/types.ts is not in the program');
  const fields = profileFields(source);

  it('enumerates the fields the brief names (sanity)', () => {
    const paths = fields.map((f) => f.path);
    for (const p of ['title', 'registrationsPerSoftware', 'management.tokenKinds', 'management.tokenRotation', 'ssa.defaultIssuers', 'ssa.time.maxAgeSeconds', 'webhooks', 'jwks.requireEncryptionKey']) {
      expect(paths).toContain(p);
    }
    expect(paths).not.toContain('ssa.jtiReplayCheck');
    expect(fields.length).toBeGreaterThan(80);
  });

  it('no field is referenced only by the tables and tests', { timeout: 180_000 }, () => {
    const read = readDeclarations(program);
    const unread = fields.filter((f) => !read.has(f.declaration)).map((f) => f.path);
    expect(unread, `declared but never read: ${unread.join(', ')}`).toEqual([]);
  });
});

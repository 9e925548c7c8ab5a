/**
 * Minimal `Reflect` metadata polyfill, installed only when none is present.
 *
 * @peculiar/x509 has no `exports` map, so Node's ESM loader resolves it to its CommonJS build,
 * which requires tsyringe, which throws at load time unless `Reflect.getMetadata` exists (it asks
 * for the `reflect-metadata` package, which is not a dependency of this project). tsyringe only
 * uses getMetadata / getOwnMetadata / defineMetadata. Import this module before '@peculiar/x509'.
 */
type MetadataMap = Map<unknown, unknown>;
type Target = object;

interface ReflectMetadataApi {
  defineMetadata(key: unknown, value: unknown, target: Target, property?: string | symbol): void;
  getOwnMetadata(key: unknown, target: Target, property?: string | symbol): unknown;
  getMetadata(key: unknown, target: Target, property?: string | symbol): unknown;
  hasOwnMetadata(key: unknown, target: Target, property?: string | symbol): boolean;
  hasMetadata(key: unknown, target: Target, property?: string | symbol): boolean;
  metadata(key: unknown, value: unknown): (target: Target, property?: string | symbol) => void;
}

const reflect = Reflect as unknown as Partial<ReflectMetadataApi>;

if (typeof reflect.getMetadata !== 'function') {
  const store = new WeakMap<Target, Map<string | symbol | undefined, MetadataMap>>();

  const ownMap = (target: Target, property: string | symbol | undefined, create: boolean): MetadataMap | undefined => {
    let byProperty = store.get(target);
    if (!byProperty) {
      if (!create) return undefined;
      byProperty = new Map();
      store.set(target, byProperty);
    }
    let map = byProperty.get(property);
    if (!map && create) {
      map = new Map();
      byProperty.set(property, map);
    }
    return map;
  };

  const api: ReflectMetadataApi = {
    defineMetadata(key, value, target, property) {
      ownMap(target, property, true)?.set(key, value);
    },
    getOwnMetadata(key, target, property) {
      return ownMap(target, property, false)?.get(key);
    },
    getMetadata(key, target, property) {
      for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
        const map = ownMap(t, property, false);
        if (map?.has(key)) return map.get(key);
      }
      return undefined;
    },
    hasOwnMetadata(key, target, property) {
      return ownMap(target, property, false)?.has(key) ?? false;
    },
    hasMetadata(key, target, property) {
      for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
        if (ownMap(t, property, false)?.has(key)) return true;
      }
      return false;
    },
    metadata(key, value) {
      return (target, property) => api.defineMetadata(key, value, target, property);
    },
  };

  for (const [name, fn] of Object.entries(api)) {
    Object.defineProperty(Reflect, name, { value: fn, writable: true, configurable: true, enumerable: false });
  }
}

export {};

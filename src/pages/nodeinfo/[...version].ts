import { federationRoute } from '../../web/fediverse.ts';

/** Served by Fedify (src/domain/fediverse/federation.ts). */
export const ALL = federationRoute;

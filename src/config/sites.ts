/**
 * Chooses the Amber site and the Tesla energy site the engine works on.
 * A configured id must exist; without one, the only eligible site is taken,
 * and anything else is a ConfigError that lists the choices.
 */
import type { Site } from "../amber/schemas.js";
import { ConfigError } from "../errors.js";

/** A Tesla energy site as the chooser needs it. */
export interface EnergySiteChoice {
  /** `energy_site_id`, as text. */
  id: string;
  name?: string | undefined;
}

/**
 * Returns the Amber site to use. Only active sites are picked by
 * themselves: a pending site has no prices yet and a closed one never will.
 * A configured id is honoured even for a pending site, with the caller
 * expected to surface Amber's own errors.
 */
export function pickAmberSite(
  sites: readonly Site[],
  configuredId?: string,
): Site {
  if (configuredId !== undefined) {
    const match = sites.find((site) => site.id === configuredId);
    if (match === undefined) {
      throw new ConfigError(
        `amber.siteId "${configuredId}" is not a site of this Amber account. Choose one of: ${listAmber(sites)}.`,
      );
    }
    if (match.status === "closed") {
      throw new ConfigError(
        `amber.siteId "${configuredId}" is a closed Amber site (closed on ${match.closedOn ?? "an unknown date"}). Choose an active one: ${listAmber(sites)}.`,
      );
    }
    return match;
  }

  const active = sites.filter((site) => site.status === "active");
  const [only] = active;
  if (only !== undefined && active.length === 1) {
    return only;
  }
  if (active.length === 0) {
    throw new ConfigError(
      sites.length === 0
        ? "The Amber account has no sites. Check that the token belongs to the account with your electricity plan."
        : `The Amber account has no active site (${listAmber(sites)}). Set amber.siteId (TESLA_SYNC_AMBER_SITE_ID) once a site is active.`,
    );
  }
  throw new ConfigError(
    `The Amber account has ${active.length} active sites; set amber.siteId (TESLA_SYNC_AMBER_SITE_ID) to one of: ${listAmber(active)}.`,
  );
}

/** Returns the id of the Tesla energy site to use. */
export function pickEnergySite(
  sites: readonly EnergySiteChoice[],
  configuredId?: string,
): string {
  if (configuredId !== undefined) {
    if (!sites.some((site) => site.id === configuredId)) {
      throw new ConfigError(
        `tesla.siteId "${configuredId}" is not an energy site of this Tesla account. Choose one of: ${listTesla(sites)}.`,
      );
    }
    return configuredId;
  }
  const [only] = sites;
  if (only !== undefined && sites.length === 1) {
    return only.id;
  }
  if (sites.length === 0) {
    throw new ConfigError(
      "The Tesla account has no energy sites. Check that the token belongs to the account that owns the Powerwall and has the energy_device_data scope.",
    );
  }
  throw new ConfigError(
    `The Tesla account has ${sites.length} energy sites; set tesla.siteId (TESLA_SYNC_TESLA_SITE_ID) to one of: ${listTesla(sites)}.`,
  );
}

function listAmber(sites: readonly Site[]): string {
  return sites
    .map((site) => `${site.id} (NMI ${site.nmi}, ${site.status})`)
    .join(", ");
}

function listTesla(sites: readonly EnergySiteChoice[]): string {
  return sites
    .map((site) => (site.name ? `${site.id} (${site.name})` : site.id))
    .join(", ");
}

/** Who is calling: the provider's operator, or one organization (which sees only itself). */
export type Principal = { readonly role: 'operator'; readonly keyId: string } | { readonly role: 'organization'; readonly keyId: string; readonly organizationId: string };

/** Whether the principal may see the organization's data. Another tenant's data answers 404, not 403. */
export function canSeeOrganization(principal: Principal, organizationId: string | null): boolean {
  // UUIDs are the same in either case.
  return principal.role === 'operator' || (organizationId !== null && principal.organizationId === organizationId.toLowerCase());
}

/** The scope idempotency keys are unique in: each caller has its own key space. */
export function idempotencyScope(principal: Principal): string {
  return principal.role === 'operator' ? 'operator' : `organization:${principal.organizationId}`;
}

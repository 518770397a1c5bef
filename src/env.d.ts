/// <reference types="astro/client" />

declare namespace App {
  interface Locals {
    runtime: import('./lib/runtime.ts').Runtime;
    /** The signed-in staff user (session cookie on /admin, bearer token on /api/v1). */
    staff?: import('./domain/staff/sessions.ts').SessionStaffUser;
    /** The post a page shows: a copy from the page cache still counts its anonymous view. */
    pagePostId?: string;
  }
}

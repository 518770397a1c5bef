/**
 * The brand's design, as emails and the reader site use it: colours, fonts, the header, the
 * button's shape and what a post's email shows. Stored with the site settings
 * (domain/site/settings.ts validates it); emails/html.ts compiles it into the email frame once
 * per design, and the site's layout turns it into CSS custom properties.
 *
 * Fonts are system stacks and web-safe families only: nothing is loaded from another origin.
 */
export const FONT_STACKS = {
  system: "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif",
  'system-serif': "ui-serif,Georgia,Cambria,'Times New Roman',Times,serif",
  georgia: "Georgia,'Times New Roman',Times,serif",
  helvetica: "'Helvetica Neue',Helvetica,Arial,sans-serif",
  arial: 'Arial,Helvetica,sans-serif',
  verdana: 'Verdana,Geneva,sans-serif',
  tahoma: 'Tahoma,Verdana,Segoe,sans-serif',
  trebuchet: "'Trebuchet MS','Lucida Grande',sans-serif",
  palatino: "'Palatino Linotype',Palatino,'Book Antiqua',Georgia,serif",
  times: "'Times New Roman',Times,serif",
  courier: "'Courier New',Courier,monospace",
} as const;
export type FontName = keyof typeof FONT_STACKS;
export const FONT_NAMES = Object.keys(FONT_STACKS) as FontName[];

export const BUTTON_STYLES = ['rounded', 'square', 'pill', 'outline'] as const;
export type ButtonStyle = (typeof BUTTON_STYLES)[number];

export interface Design {
  /** Links in the body; the accent colour (site settings) fills buttons and the title. */
  linkColor: string;
  /** The page around the email's card, and the site's page. */
  backgroundColor: string;
  headingFont: FontName;
  bodyFont: FontName;
  buttonStyle: ButtonStyle;
  /** The logo's width in the email's header, in CSS pixels (its height follows its proportions). */
  logoWidth: number;
  /** The site's name under (or instead of) the logo. */
  showTitle: boolean;
  /** A line of the brand's own words in every email's footer. */
  footerText: string;
  /** A "View in your browser" link above a post's email. */
  showViewInBrowser: boolean;
  /** A post's feature image at the top of its email. */
  showFeatureImage: boolean;
  /** The post's author's name under its title in the email. */
  showAuthor: boolean;
}

export const DEFAULT_DESIGN: Design = {
  linkColor: '#9a3412',
  backgroundColor: '#f5f5f4',
  headingFont: 'helvetica',
  bodyFont: 'georgia',
  buttonStyle: 'rounded',
  logoWidth: 160,
  showTitle: true,
  footerText: '',
  showViewInBrowser: true,
  showFeatureImage: true,
  showAuthor: false,
};

export const HEX_COLOR = /^#[0-9a-fA-F]{6}$/;

/** An image with its real size, as the frame and post emails need it (Outlook for Windows ignores CSS sizes). */
export interface SizedImage {
  src: string;
  width: number;
  height: number;
}

/** Width of the email's card and of its content column, in pixels. */
export const EMAIL_WIDTH = 600;
export const CONTENT_WIDTH = 536;

/** An image's width and height attributes scaled to fit `max` pixels wide (never enlarged). */
export function fitWithin(width: number, height: number, max: number): { width: number; height: number } {
  if (width <= max) return { width, height };
  return { width: max, height: Math.max(1, Math.round((height * max) / width)) };
}

/** The colour `hex` moved `amount` (0–1) of the way to white: links that stay legible on a dark card. */
export function lighten(hex: string, amount: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  const channel = (shift: number) => {
    const c = (n >> shift) & 0xff;
    return Math.round(c + (255 - c) * amount)
      .toString(16)
      .padStart(2, '0');
  };
  return `#${channel(16)}${channel(8)}${channel(0)}`;
}

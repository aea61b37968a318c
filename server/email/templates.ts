// Every email the product sends: a subject, plain text and HTML, in English and Hindi.
// Variables are plain strings; HTML escapes them. A template that carries a link names it
// `link` (built by the worker from APP_URL and a sealed token: server/email/worker.ts).

export const LOCALES = ['en', 'hi'] as const;
export type Locale = (typeof LOCALES)[number];

/** A user's language column → the email locale (Hindi for hi*, else English). */
export function localeOf(language: string | null | undefined): Locale {
  return language?.toLowerCase().startsWith('hi') ? 'hi' : 'en';
}

/** An instant as emails write it: `2026-12-07 23:18 UTC`. */
export const emailTime = (at: Date) => `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

interface Content {
  subject: string;
  /** Paragraphs; the link (if any) goes after them. */
  paragraphs: string[];
  /** The link's label (HTML button text); its URL is vars.link. */
  action?: string;
}

type Vars = Record<string, string>;
type Template = Record<Locale, (v: Vars) => Content>;

const greeting = {
  en: (v: Vars) => `Hello ${v.name ?? ''},`.trim(),
  hi: (v: Vars) => `नमस्ते ${v.name ?? ''},`,
};
const ignore = {
  en: 'If this was not you, you can ignore this email; nothing changes.',
  hi: 'अगर यह आपने नहीं किया, तो इस ईमेल को अनदेखा करें; कुछ नहीं बदलेगा।',
};
const contactUs = {
  en: 'If this was not you, contact support at once.',
  hi: 'अगर यह आपने नहीं किया, तो तुरंत सहायता टीम से संपर्क करें।',
};

export const TEMPLATES = {
  passwordReset: {
    en: (v) => ({
      subject: 'Reset your MANAS360 password',
      paragraphs: [
        greeting.en(v),
        'Someone asked to reset the password of your MANAS360 account. The link below works once, for 30 minutes.',
        ignore.en,
      ],
      action: 'Choose a new password',
    }),
    hi: (v) => ({
      subject: 'अपना MANAS360 पासवर्ड रीसेट करें',
      paragraphs: [
        greeting.hi(v),
        'आपके MANAS360 खाते का पासवर्ड रीसेट करने का अनुरोध किया गया है। नीचे दिया गया लिंक एक बार, 30 मिनट तक काम करेगा।',
        ignore.hi,
      ],
      action: 'नया पासवर्ड चुनें',
    }),
  },
  passwordChanged: {
    en: (v) => ({
      subject: 'Your MANAS360 password was changed',
      paragraphs: [
        greeting.en(v),
        'The password of your MANAS360 account was just changed, and every device was signed out.',
        contactUs.en,
      ],
    }),
    hi: (v) => ({
      subject: 'आपका MANAS360 पासवर्ड बदल दिया गया',
      paragraphs: [
        greeting.hi(v),
        'आपके MANAS360 खाते का पासवर्ड अभी बदला गया है, और सभी डिवाइस से साइन आउट कर दिया गया है।',
        contactUs.hi,
      ],
    }),
  },
  verifyEmail: {
    en: (v) => ({
      subject: 'Confirm your email address for MANAS360',
      paragraphs: [
        greeting.en(v),
        'Please confirm that this address is yours. The link works once, for 24 hours.',
        ignore.en,
      ],
      action: 'Confirm my address',
    }),
    hi: (v) => ({
      subject: 'MANAS360 के लिए अपना ईमेल पता पुष्टि करें',
      paragraphs: [
        greeting.hi(v),
        'कृपया पुष्टि करें कि यह पता आपका है। लिंक एक बार, 24 घंटे तक काम करेगा।',
        ignore.hi,
      ],
      action: 'मेरा पता पुष्टि करें',
    }),
  },
  emailChangeRequested: {
    en: (v) => ({
      subject: 'Your MANAS360 email address is being changed',
      paragraphs: [
        greeting.en(v),
        `Someone signed in to your account asked to change its email address to ${v.newEmail}. It changes once the new address is confirmed.`,
        contactUs.en,
      ],
    }),
    hi: (v) => ({
      subject: 'आपका MANAS360 ईमेल पता बदला जा रहा है',
      paragraphs: [
        greeting.hi(v),
        `आपके खाते का ईमेल पता ${v.newEmail} में बदलने का अनुरोध किया गया है। नया पता पुष्टि होने पर यह बदल जाएगा।`,
        contactUs.hi,
      ],
    }),
  },
  accountExists: {
    en: (v) => ({
      subject: 'You already have a MANAS360 account',
      paragraphs: [
        greeting.en(v),
        'Someone tried to register a new MANAS360 account with this address, but you already have one. Sign in, or reset your password if you forgot it.',
        ignore.en,
      ],
      action: 'Reset my password',
    }),
    hi: (v) => ({
      subject: 'आपका MANAS360 खाता पहले से है',
      paragraphs: [
        greeting.hi(v),
        'इस पते से एक नया MANAS360 खाता बनाने का प्रयास किया गया, लेकिन आपका खाता पहले से है। साइन इन करें, या पासवर्ड भूल गए हों तो रीसेट करें।',
        ignore.hi,
      ],
      action: 'पासवर्ड रीसेट करें',
    }),
  },
  paymentReceipt: {
    en: (v) => ({
      subject: 'Your MANAS360 payment receipt',
      paragraphs: [
        greeting.en(v),
        `We received your payment of ${v.amount} for the ${v.plan} plan (payment ${v.paymentId}). Your plan runs until ${v.periodEnd}.`,
      ],
    }),
    hi: (v) => ({
      subject: 'आपकी MANAS360 भुगतान रसीद',
      paragraphs: [
        greeting.hi(v),
        `${v.plan} प्लान के लिए आपका ${v.amount} का भुगतान प्राप्त हुआ (भुगतान ${v.paymentId})। आपका प्लान ${v.periodEnd} तक चलेगा।`,
      ],
    }),
  },
  paymentFailed: {
    en: (v) => ({
      subject: 'Your MANAS360 payment did not go through',
      paragraphs: [
        greeting.en(v),
        `Your payment for the ${v.plan} plan (payment ${v.paymentId}) failed, and nothing was charged. You can try again from your account.`,
      ],
    }),
    hi: (v) => ({
      subject: 'आपका MANAS360 भुगतान पूरा नहीं हुआ',
      paragraphs: [
        greeting.hi(v),
        `${v.plan} प्लान के लिए आपका भुगतान (भुगतान ${v.paymentId}) विफल रहा, और कोई राशि नहीं काटी गई। आप अपने खाते से फिर से प्रयास कर सकते हैं।`,
      ],
    }),
  },
  erasureScheduled: {
    en: (v) => ({
      subject: 'Your MANAS360 account will be erased',
      paragraphs: [
        greeting.en(v),
        `You asked us to erase your MANAS360 account and its data. It will be erased on ${v.dueAt}; until then you can cancel by signing in.`,
        contactUs.en,
      ],
    }),
    hi: (v) => ({
      subject: 'आपका MANAS360 खाता मिटा दिया जाएगा',
      paragraphs: [
        greeting.hi(v),
        `आपने अपना MANAS360 खाता और उसका डेटा मिटाने का अनुरोध किया है। यह ${v.dueAt} को मिटा दिया जाएगा; तब तक आप साइन इन करके इसे रद्द कर सकते हैं।`,
        contactUs.hi,
      ],
    }),
  },
  erasureCancelled: {
    en: (v) => ({
      subject: 'Your MANAS360 account will not be erased',
      paragraphs: [
        greeting.en(v),
        'The erasure of your account was cancelled. Your account stays as it was.',
      ],
    }),
    hi: (v) => ({
      subject: 'आपका MANAS360 खाता नहीं मिटाया जाएगा',
      paragraphs: [greeting.hi(v), 'आपके खाते को मिटाने का अनुरोध रद्द कर दिया गया। आपका खाता पहले जैसा रहेगा।'],
    }),
  },
  erasureDone: {
    en: () => ({
      subject: 'Your MANAS360 account was erased',
      paragraphs: [
        'Hello,',
        'As you asked, your MANAS360 account and its personal data were erased. This is the last email we send to this address.',
      ],
    }),
    hi: () => ({
      subject: 'आपका MANAS360 खाता मिटा दिया गया',
      paragraphs: [
        'नमस्ते,',
        'आपके अनुरोध के अनुसार, आपका MANAS360 खाता और उसका व्यक्तिगत डेटा मिटा दिया गया है। यह इस पते पर भेजा गया अंतिम ईमेल है।',
      ],
    }),
  },
  newDeviceSignIn: {
    en: (v) => ({
      subject: 'New sign-in to your MANAS360 staff account',
      paragraphs: [
        greeting.en(v),
        `Your account was signed in from a new device (${v.device}, address ${v.ip}) at ${v.at}.`,
        contactUs.en,
      ],
    }),
    hi: (v) => ({
      subject: 'आपके MANAS360 स्टाफ खाते में नया साइन-इन',
      paragraphs: [
        greeting.hi(v),
        `आपके खाते में ${v.at} को एक नए डिवाइस (${v.device}, पता ${v.ip}) से साइन इन किया गया।`,
        contactUs.hi,
      ],
    }),
  },
  // Crisis alerts (server/notify/email.ts), to staff only: which alert and how long it has
  // waited, never the patient's name, contact details or answers.
  crisisAlertRaised: {
    en: (v) => ({
      subject: `MANAS360 crisis alert: a patient needs contact (alert ${v.alertRef})`,
      paragraphs: [
        greeting.en(v),
        `You are on call: a patient has just reported thoughts of self-harm (crisis alert ${v.alertRef}, raised ${v.waited} min ago).`,
        'Open the crisis queue in the MANAS360 admin console now, acknowledge the alert and contact the patient.',
      ],
    }),
    hi: (v) => ({
      subject: `MANAS360 संकट अलर्ट: एक मरीज़ से संपर्क ज़रूरी है (अलर्ट ${v.alertRef})`,
      paragraphs: [
        greeting.hi(v),
        `आप ऑन-कॉल हैं: एक मरीज़ ने अभी-अभी ख़ुद को नुकसान पहुँचाने के विचार बताए हैं (संकट अलर्ट ${v.alertRef}, ${v.waited} मिनट पहले)।`,
        'अभी MANAS360 एडमिन कंसोल में संकट कतार खोलें, अलर्ट स्वीकार करें और मरीज़ से संपर्क करें।',
      ],
    }),
  },
  crisisAlertEscalated: {
    en: (v) => ({
      subject: `Escalated: MANAS360 crisis alert ${v.alertRef} unacknowledged for ${v.waited} min`,
      paragraphs: [
        greeting.en(v),
        `Crisis alert ${v.alertRef} has waited ${v.waited} minutes and nobody has acknowledged it (escalation ${v.level} of 2).`,
        'Open the crisis queue in the MANAS360 admin console and make sure a clinician contacts the patient now.',
      ],
    }),
    hi: (v) => ({
      subject: `एस्केलेशन: MANAS360 संकट अलर्ट ${v.alertRef} ${v.waited} मिनट से अनुत्तरित`,
      paragraphs: [
        greeting.hi(v),
        `संकट अलर्ट ${v.alertRef} ${v.waited} मिनट से प्रतीक्षा में है और किसी ने उसे स्वीकार नहीं किया है (एस्केलेशन ${v.level} / 2)।`,
        'MANAS360 एडमिन कंसोल में संकट कतार खोलें और सुनिश्चित करें कि कोई चिकित्सक अभी मरीज़ से संपर्क करे।',
      ],
    }),
  },
} satisfies Record<string, Template>;

export type TemplateName = keyof typeof TEMPLATES;
export const TEMPLATE_NAMES = Object.keys(TEMPLATES) as TemplateName[];

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The subject, text and HTML of a template in a locale. */
export function renderEmail(template: TemplateName, locale: Locale, vars: Vars): RenderedEmail {
  const t: Template = TEMPLATES[template];
  const c = t[locale](vars);
  const link = c.action && vars.link ? vars.link : undefined;
  const text = [...c.paragraphs, ...(link ? [`${c.action}: ${link}`] : []), '— MANAS360'].join('\n\n');
  const html = [
    `<!doctype html><html lang="${locale}"><head><meta charset="utf-8"><title>${escapeHtml(c.subject)}</title></head>`,
    '<body style="font-family:sans-serif;line-height:1.5;max-width:36em">',
    ...c.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    ...(link
      ? [
          `<p><a href="${escapeHtml(link)}" style="display:inline-block;padding:.6em 1.2em;background:#2f6f5e;color:#fff;text-decoration:none;border-radius:4px">${escapeHtml(c.action!)}</a></p>`,
          `<p style="font-size:.85em;color:#555">${escapeHtml(link)}</p>`,
        ]
      : []),
    '<p>— MANAS360</p></body></html>',
  ].join('\n');
  return { subject: c.subject, text, html };
}

// app.js is the page's browser script, imported as text (`with { type: 'text' }`) by content.ts, not run here.
declare const text: string;
export default text;

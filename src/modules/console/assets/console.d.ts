/** console.js is embedded as text (import ... with { type: "text" }), never run on the server. */
declare const text: string;
export default text;

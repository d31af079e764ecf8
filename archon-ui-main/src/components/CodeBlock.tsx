/** Syntax-highlighted code: lowlight produces a syntax tree that React renders (no innerHTML). */
import { Fragment, jsx, jsxs } from "react/jsx-runtime";
import { toJsxRuntime } from "hast-util-to-jsx-runtime";
import { common, createLowlight } from "lowlight";
import { useMemo } from "react";

const lowlight = createLowlight(common);

const ALIASES: Record<string, string> = { js: "javascript", ts: "typescript", py: "python", sh: "bash", shell: "bash",
  yml: "yaml", rs: "rust", golang: "go", "c++": "cpp", tsx: "typescript", jsx: "javascript" };

export function CodeBlock({ code, language }: { code: string; language?: string | null }) {
  const tree = useMemo(() => {
    const lang = language ? (ALIASES[language.toLowerCase()] ?? language.toLowerCase()) : null;
    try {
      if (lang && lowlight.registered(lang)) return lowlight.highlight(lang, code);
      return lowlight.highlightAuto(code);
    } catch {
      return null;
    }
  }, [code, language]);
  return (
    <pre className="overflow-x-auto rounded-md bg-slate-100 p-3 text-sm dark:bg-slate-900" data-language={language ?? ""}>
      <code className="hljs font-mono">{tree ? toJsxRuntime(tree, { Fragment, jsx, jsxs }) : code}</code>
    </pre>
  );
}

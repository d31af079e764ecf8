/** Renders untrusted markdown (crawled pages, uploads, task descriptions) safely:
 * raw HTML is never parsed (skipHtml), the output is sanitised, and only http(s)/mailto/relative links survive. */
import { isValidElement, type ReactElement } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";
import rehypeSanitize from "rehype-sanitize";
import { CodeBlock } from "./CodeBlock";

const SAFE_PROTOCOL = /^(https?:|mailto:)/i;

/** Keep http(s), mailto, anchors and relative links; drop javascript:, data:, vbscript: and anything odd. */
export function safeUrl(url: string): string {
  const trimmed = url.trim();
  // Strip control characters and whitespace that browsers ignore inside a scheme ("java\tscript:").
  const normalized = trimmed.replace(/[\u0000-\u0020\u007f-\u009f]/g, "");
  const colon = normalized.indexOf(":");
  const slash = normalized.search(/[/?#]/);
  const hasScheme = colon !== -1 && (slash === -1 || colon < slash);
  if (!hasScheme) return trimmed;
  return SAFE_PROTOCOL.test(normalized) ? trimmed : "";
}

const components: Components = {
  a: ({ href, children, node: _node, ...rest }) => {
    const safe = href ? safeUrl(href) : "";
    if (!safe) return <span {...rest}>{children}</span>;
    return (
      <a {...rest} href={safe} target="_blank" rel="noopener noreferrer nofollow">
        {children}
      </a>
    );
  },
  // Fenced code gets syntax highlighting (a React tree, never innerHTML).
  pre: ({ children }) => {
    if (isValidElement(children)) {
      const props = (children as ReactElement<{ className?: string; children?: unknown }>).props;
      const language = /language-([\w+#-]+)/.exec(props.className ?? "")?.[1] ?? null;
      return <CodeBlock code={String(props.children ?? "").replace(/\n$/, "")} language={language} />;
    }
    return <pre>{children}</pre>;
  },
  // Remote images in crawled content would leak the viewer's IP and are blocked by the CSP anyway: show alt text.
  img: ({ alt }) => <span className="italic text-slate-500">[image: {alt || "untitled"}]</span>,
};

export function Markdown({ children, className }: { children: string; className?: string }) {
  return (
    <div className={`prose-archon break-words ${className ?? ""}`}>
      <ReactMarkdown
        remarkPlugins={[remarkGfm]}
        rehypePlugins={[rehypeSanitize]}
        skipHtml
        urlTransform={safeUrl}
        components={components}
      >
        {children}
      </ReactMarkdown>
    </div>
  );
}

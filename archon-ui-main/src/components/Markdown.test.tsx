import { render } from "@testing-library/react";
import { Markdown, safeUrl } from "./Markdown";

describe("safeUrl", () => {
  it.each([
    ["javascript:alert(1)", ""],
    ["JaVaScRiPt:alert(1)", ""],
    ["java\tscript:alert(1)", ""],
    [" javascript:alert(1)", ""],
    ["vbscript:msgbox(1)", ""],
    ["data:text/html;base64,PHNjcmlwdD4=", ""],
    ["https://example.com/a?b=c", "https://example.com/a?b=c"],
    ["mailto:a@b.c", "mailto:a@b.c"],
    ["/docs/page#x", "/docs/page#x"],
    ["#anchor", "#anchor"],
  ])("%s -> %s", (input, expected) => {
    expect(safeUrl(input)).toBe(expected);
  });
});

describe("Markdown", () => {
  it("renders planted XSS payloads as inert content", () => {
    const payload = [
      "# Title",
      "[click](javascript:alert(1)) [mixed](JaVaScRiPt:alert(2)) <a href=\"javascript:alert(3)\">raw</a>",
      "<script>window.__xss = 1</script>",
      "<img src=x onerror=\"window.__xss=2\">",
      "![img](javascript:alert(4))",
      "<iframe src=\"https://evil.example\"></iframe>",
      "[ok](https://example.com/docs)",
    ].join("\n\n");
    const { container } = render(<Markdown>{payload}</Markdown>);
    expect(container.querySelector("script, iframe, img, [onerror]")).toBeNull();
    const hrefs = [...container.querySelectorAll("a")].map((a) => a.getAttribute("href"));
    expect(hrefs).toEqual(["https://example.com/docs"]);
    expect(container.querySelector("a")?.getAttribute("rel")).toContain("noopener");
    expect(container.textContent).toContain("click");
    expect((window as unknown as { __xss?: number }).__xss).toBeUndefined();
  });

  it("keeps GitHub-flavoured tables and code", () => {
    const { container } = render(<Markdown>{"| a | b |\n|---|---|\n| 1 | 2 |\n\n```py\nprint(1)\n```"}</Markdown>);
    expect(container.querySelectorAll("td")).toHaveLength(2);
    expect(container.querySelector("pre code")?.textContent).toContain("print(1)");
  });
});

import { render } from "@testing-library/react";
import { CodeBlock } from "./CodeBlock";

it("highlights code into spans without injecting HTML", () => {
  const code = 'def f():\n    return "<img src=x onerror=alert(1)>"';
  const { container } = render(<CodeBlock code={code} language="py" />);
  expect(container.querySelector(".hljs-keyword")?.textContent).toBe("def");
  expect(container.querySelector("img")).toBeNull();
  expect(container.textContent).toBe(code);
});

/* The Most viewed block in the editor: its settings in the sidebar and a placeholder saying
 * what it will show. The page draws the list (widget.js, from Ranker), so the block saves
 * nothing: the server renders it (render_callback). Plain script on WordPress' wp.* globals,
 * no build step. */
(function (wp) {
  "use strict";
  const el = wp.element.createElement;
  const __ = wp.i18n.__;
  const sprintf = wp.i18n.sprintf;
  const be = wp.blockEditor;
  const c = wp.components;

  const WINDOWS = [
    { value: "hot", label: __("Now (time-decayed)", "ranker-most-viewed") },
    { value: "1h", label: __("Last hour", "ranker-most-viewed") },
    { value: "24h", label: __("Last 24 hours", "ranker-most-viewed") },
    { value: "7d", label: __("Last 7 days", "ranker-most-viewed") },
    { value: "30d", label: __("Last 30 days", "ranker-most-viewed") },
    { value: "all", label: __("All time", "ranker-most-viewed") },
  ];

  function describe(a) {
    const period = WINDOWS.find((w) => w.value === a.window) || WINDOWS[2];
    const where = a.section
      ? sprintf(__("in section %s", "ranker-most-viewed"), a.section)
      : __("across the site", "ranker-most-viewed");
    return sprintf(__("The %1$d most viewed stories %2$s: %3$s.", "ranker-most-viewed"), a.n, where, period.label);
  }

  function Edit(props) {
    const a = props.attributes;
    const set = props.setAttributes;
    const settings = el(
      be.InspectorControls,
      null,
      el(
        c.PanelBody,
        { title: __("List", "ranker-most-viewed") },
        el(c.TextControl, {
          label: __("Heading", "ranker-most-viewed"),
          value: a.title,
          onChange: (v) => set({ title: v }),
        }),
        el(c.SelectControl, {
          label: __("Counted over", "ranker-most-viewed"),
          value: a.window,
          options: WINDOWS,
          onChange: (v) => set({ window: v }),
        }),
        el(c.RangeControl, {
          label: __("Stories", "ranker-most-viewed"),
          value: a.n,
          min: 1,
          max: 20,
          onChange: (v) => set({ n: v || 5 }),
        }),
        el(c.TextControl, {
          label: __("Section (a category's slug; empty: the whole site)", "ranker-most-viewed"),
          value: a.section,
          onChange: (v) => set({ section: v.trim().toLowerCase() }),
        }),
        el(c.ToggleControl, {
          label: __("Leave out the story the box is on", "ranker-most-viewed"),
          checked: a.excludeCurrent,
          onChange: (v) => set({ excludeCurrent: v }),
        }),
        el(c.TextControl, {
          label: __("Placement (for Box performance; named in Ranker's configuration)", "ranker-most-viewed"),
          value: a.placement,
          onChange: (v) => set({ placement: v.trim().toLowerCase() }),
        }),
      ),
    );
    return el(
      "div",
      be.useBlockProps(),
      settings,
      el(c.Placeholder, {
        icon: "chart-bar",
        label: a.title || __("Most viewed", "ranker-most-viewed"),
        instructions: describe(a),
      }),
    );
  }

  wp.blocks.registerBlockType("ranker/most-viewed", { edit: Edit, save: () => null });
})(window.wp);
